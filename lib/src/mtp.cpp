#include "mmtp/mtp.hpp"

#include <stdexcept>

#include "mmtp/error.hpp"

#include "equations.hpp"
#include "site_pass.hpp"

namespace mmtp {

MagneticMtp::MagneticMtp(MtpParameters p)
    : p_((p.validate(/*require_coefficients=*/true), std::move(p))),
      monomials_(p_),
      schedule_(equations::contraction_schedule(p_)),
      pass_(std::make_shared<const SitePass>(std::vector<const MtpParameters*>{&p_})) {}

void MagneticMtp::set_coefficients(const MtpParameters& p) {
  if (!SitePass::same_basis(p, p_) || p.species_count != p_.species_count)
    throw InputError("set_coefficients: the potential has another basis");
  p.validate(/*require_coefficients=*/true);
  p_.radial_coeffs = p.radial_coeffs;
  p_.species_coeffs = p.species_coeffs;
  p_.moment_coeffs = p.moment_coeffs;
  pass_ = std::make_shared<const SitePass>(std::vector<const MtpParameters*>{&p_});
}

Result MagneticMtp::evaluate(const Structure& s, EvalMode mode) const {
  return evaluate(s, NeighborList::build(s, cutoff()), mode);  // build() validates s
}

Result MagneticMtp::evaluate(const Structure& s, const NeighborList& nl, EvalMode mode) const {
  if (static_cast<Index>(nl.offsets.size()) != s.size() + 1 || nl.cutoff < cutoff())
    throw std::invalid_argument("neighbour list does not match the structure or its cutoff is too short");
  return pass_->evaluate(s, nl, mode, Derivatives::all).front();
}

Result MagneticMtp::evaluate(const Structure& s, const Geometry& g, EvalMode mode, Derivatives what) const {
  if (g.size() != s.size() || !g.fits(p_)) throw std::invalid_argument("the geometry was computed for another structure or basis");
  return pass_->evaluate(s, g, mode, what).front();
}

}  // namespace mmtp
