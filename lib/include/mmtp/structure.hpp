#pragma once
#include <Eigen/Core>
#include <array>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mmtp {

using Index = Eigen::Index;

/// Model input. Internal units: Å, μB.
struct Structure {
  Eigen::Matrix3d cell = Eigen::Matrix3d::Zero();  ///< columns = lattice vectors a, b, c [Å]
  std::array<bool, 3> pbc{true, true, true};       ///< periodicity along a, b, c
  std::vector<int> species;                        ///< potential type index 0..S−1, size N
  Eigen::Matrix3Xd positions;                      ///< Cartesian [Å], 3×N, column i = atom i
  /// Collinear magnetic moments [μB], signed, size N; or size 0 = "no moments given"
  /// (MLIP-3 then sets every magnetic basis function to 1).
  Eigen::VectorXd magmoms;

  Index size() const { return positions.cols(); }
  bool has_magmoms() const { return magmoms.size() != 0; }
  /// Checks sizes, finiteness, species ≥ 0 and a non-singular cell along periodic
  /// directions. Throws InputError naming the field.
  void validate() const;
};

/// Where a result leaves the region the potential was trained on.
/// Values are still computed (the basis extrapolates); callers decide whether to warn.
struct Extrapolation {
  int short_pairs = 0;  ///< neighbour pairs closer than the potential's min_dist
  double min_distance = std::numeric_limits<double>::infinity();  ///< shortest pair [Å]
  int moments_out_of_range = 0;  ///< atoms with m outside [min_val, max_val]
  bool any() const { return short_pairs > 0 || moments_out_of_range > 0; }
};

/// Model output. Signs and units are part of the contract.
struct Result {
  double energy = 0.0;             ///< E [eV]
  Eigen::VectorXd site_energies;   ///< E_i [eV], size N, Σ E_i = E
  Eigen::Matrix3Xd forces;         ///< −∂E/∂r [eV/Å], 3×N
  Eigen::Matrix3d virial = Eigen::Matrix3d::Zero();  ///< −∂E/∂ε [eV], not divided by volume;
                                                     ///< stress = −virial/V
  Eigen::VectorXd dE_dm;  ///< +∂E/∂m [eV/μB], size N (size 0 when the input had no moments)
  /// Each site's share of the virial, W_i = −Σ_j ∂E_i/∂r_ij ⊗ r_ij [eV], as (xx, yy, zz, xy, xz, yz)
  /// per column (Σ_i W_i = virial); 6×N, only when asked for (Derivatives::all_and_site_virials),
  /// else 6×0.
  Eigen::Matrix<double, 6, Eigen::Dynamic> site_virials;
  Extrapolation extrapolation;
};

/// Structure plus reference labels, as read from or written to data files.
/// Labels follow the sign conventions of Result.
struct Sample {
  Structure structure;
  std::optional<double> energy;            ///< [eV]
  std::optional<Eigen::Matrix3Xd> forces;  ///< [eV/Å], 3×N
  std::optional<Eigen::Matrix3d> virial;   ///< −∂E/∂ε [eV]
  std::optional<Eigen::VectorXd> dE_dm;    ///< +∂E/∂m [eV/μB], size N
  /// Extra per-structure key/value pairs kept through I/O (cfg `Feature`, extxyz info).
  std::vector<std::pair<std::string, std::string>> features;
  /// Extra per-atom columns kept through extxyz (e.g. "energies", "forces_std"):
  /// name and a (components × N) matrix. The cfg format has no place for them.
  std::vector<std::pair<std::string, Eigen::MatrixXd>> arrays;
};

/// Cell volume |det(cell)| [Å³].
double volume(const Structure& s);

}  // namespace mmtp
