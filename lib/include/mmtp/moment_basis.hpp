#pragma once
#include "mmtp/mtp_parameters.hpp"

namespace mmtp {

/// The basis functions of an MTP of a given level: the alpha tables of an untrained template.
///
/// Level rule (Shapeev 2016, Multiscale Model. Simul. 14, 1153, Eq. 9; Novikov et al. 2021):
/// lev(M_{μ,ν}) = 2 + 4μ + ν, and a product of moment tensors has the sum of their levels.
/// The basis functions B_α are all distinct full contractions of one to four moment tensors
/// with total level ≤ `level` (the rule MLIP-3's templates follow: for levels 06–24 this gives
/// exactly their alpha_scalar_moments 5, 9, 16, 29, 92, 288, 864 and radial_funcs_count). A
/// contraction is a multigraph on the tensors (edge = contracted index pair, degree = rank ν);
/// disconnected graphs are products of scalars. Each connected graph is evaluated as a chain
/// M_a·(M_b·(M_c·M_d)); among the orders of its tensors the one that adds the fewest new
/// intermediate components is taken, so intermediates are shared between basis functions.
/// Intermediate tensors store one symmetric index group per contributing tensor.
///
/// Returns an untrained template like MLIP-3's: species_count 1, radial_funcs_count = largest
/// μ + 1, the alpha tables, placeholder min_dist 2 Å, max_dist 5 Å, radial_basis_size 8 (the
/// caller sets its own), no coefficients. Throws InputError for
/// a level outside 2..28.
MtpParameters moment_tensor_basis(int level);

}  // namespace mmtp
