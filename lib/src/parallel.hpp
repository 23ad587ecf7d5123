#pragma once
// An exception must not leave an OpenMP region: each iteration runs its body through
// FirstError::run, which keeps the first exception thrown by any thread, and the caller rethrows
// it after the region.
#include <exception>

namespace mmtp {

class FirstError {
 public:
  /// Runs `body`; an exception it throws is kept (the first one of all threads) instead of
  /// leaving the region. Returns false when it threw.
  template <class Body>
  bool run(Body&& body) noexcept {
    try {
      body();
      return true;
    } catch (...) {
#pragma omp critical(mmtp_first_error)
      if (!error_) error_ = std::current_exception();
      return false;
    }
  }
  /// After the region: rethrows the kept exception, if any.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
};

}  // namespace mmtp
