#pragma once
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

/// Small text helpers shared by the file readers and writers.
namespace mmtp::io {

/// Reads a whole file line by line (without '\n'; a trailing '\r' is dropped).
/// Throws mmtp::Error when the file cannot be opened, or ParseError on a NUL byte
/// (binary junk) unless `stop_prefix` ends the text before it (e.g. "#MVS" in .almtp).
std::vector<std::string> read_lines(const std::string& path, std::string_view stop_prefix = {});

std::string_view trim(std::string_view s);
/// Splits on whitespace.
std::vector<std::string_view> split_ws(std::string_view s);

/// Parses a whole token as a finite double / int; throws ParseError(file, line) naming `what`.
double parse_double(std::string_view token, const std::string& file, long line, std::string_view what);
long parse_int(std::string_view token, const std::string& file, long line, std::string_view what);
/// `v` as an int when it is a whole number within ±(2³¹ − 1); ParseError("FILE:LINE: WHAT: ...")
/// otherwise (numbers read as doubles, e.g. ABINIT's echo or MLIP's `{1, 2}` lists).
int integer_value(double v, const std::string& file, long line, std::string_view what);

/// Writes `path` through a temporary file in the same folder (`PATH.tmp.PID`) that is
/// flushed to disk (fsync) and renamed over it only after `write` returned without error, so
/// a failure, a kill or a crash leaves the old file or none, never a partial one (a kill may
/// leave the temporary file beside it). Throws mmtp::Error on I/O failure.
void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

/// Splits "Fe,Al" into {"Fe", "Al"} ("" gives none). Throws mmtp::Error naming `what` on an
/// empty item ("Fe,,Al").
std::vector<std::string> split_list(const std::string& csv, std::string_view what);

/// A whole token as a finite number (option values, config keys); throws mmtp::Error
/// "WHAT: 'TOKEN' is not a number" otherwise. parse_count: a whole number within int's range.
double parse_number(std::string_view token, std::string_view what);
long parse_count(std::string_view token, std::string_view what);

/// Per-species numbers from "Fe=3,Al=0.1", or one number for every species ("3"): a value per
/// name of `species` (type order), `fill` where none is given; empty for an empty text. Values
/// must be >= 0 (> 0 when `positive`). Throws mmtp::Error naming `what` (an unknown species, a
/// bad number).
std::vector<double> per_species_values(const std::string& text, const std::vector<std::string>& species, std::string_view what,
                                       double fill = 0.0, bool positive = true);

/// Lower-case file extension without the dot ("" when none).
std::string extension(const std::string& path);

}  // namespace mmtp::io
