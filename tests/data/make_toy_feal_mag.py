#!/usr/bin/env python3
"""Writes toy_feal_mag.mtp: a hand-built magnetic MTP (MLIP-3 format) with a physical shape, for
relaxation tests. The shipped random potentials are unbounded in the moments; this one is not.

Three radial functions, each Q0(r) = (R_cut - r)^2 times magnetic basis products, and
E_i = c_z + xa*M0 + xa2*M0^2 + xb*M1 + xc*M1^2 + xex*M2 with
  M0 = sum_j Q0(r)                           (density: an EAM-like embedding with a minimum)
  M1 = sum_j Q0(r) (1 + g*T2(x_i) + o*T1(x_i)) for Fe centres, sum_j Q0(r) for Al
       (Landau-like on-site magnetism: quadratic in (1 + g*T2), quartic in m; o*T1 is odd in m,
        so raw E(M) != E(-M) while the symmetrized energy removes it)
  M2 = sum_{j: Fe} Q0(r) T1(x_i) T1(x_j)      (Fe-Fe exchange; xex < 0 is ferromagnetic)
x = m / 3 (moment range [-3, 3] muB). Numbers chosen so that bcc with a ~ 2.86 A is near the
density minimum and Fe moments sit near 2 muB. Run: python3 make_toy_feal_mag.py > toy_feal_mag.mtp
"""
S, R, M, NR = 2, 2, 3, 3
rho_star, g, o = 91.0, 0.5, 0.1
xa2 = 1e-3
xa = -2 * xa2 * rho_star
xc = 1e-3
w_star = 1 + g * (2 * (2.2 / 3) ** 2 - 1)
xb = -2 * xc * rho_star * w_star
xex = -0.002


def coeffs(zi, zj, mu):
    c = [0.0] * (R * M * M)  # index xi*M*M + a*M + b
    if mu == 0:
        c[0] = 1.0
    elif mu == 1:
        c[0] = 1.0
        if zi == 0:  # Fe centre
            c[2 * M + 0] = g  # T2(x_i)
            c[1 * M + 0] = o  # T1(x_i)
    elif mu == 2 and zi == 0 and zj == 0:
        c[1 * M + 1] = 1.0  # T1(x_i) T1(x_j)
    return c


def fmt(v):
    return "{" + ", ".join(f"{x:.16e}" for x in v) + "}"


out = ["MTP", "version = 1.1.0", "potential_name = MTP1m", "scaling = 1.0", f"species_count = {S}",
       "potential_tag = mmtp:species=Fe,Al", "radial_basis_type = RBChebyshev", "\tmin_dist = 1.9",
       "\tmax_dist = 5.0", f"\tradial_basis_size = {R}", "magnetic_basis_type = BChebyshev", "\tmin_val = -3.0",
       "\tmax_val = 3.0", f"\tbasis_size = {M}", f"\tradial_funcs_count = {NR}", "\tradial_coeffs"]
for zi in range(S):
    for zj in range(S):
        out.append(f"\t\t{zi}-{zj}")
        out += ["\t\t\t" + fmt(coeffs(zi, zj, mu)) for mu in range(NR)]
out += ["alpha_moments_count = 5", "alpha_index_basic_count = 3",
        "alpha_index_basic = {{0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0}}", "alpha_index_times_count = 2",
        "alpha_index_times = {{0, 0, 1, 3}, {1, 1, 1, 4}}", "alpha_scalar_moments = 5",
        "alpha_moment_mapping = {0, 3, 1, 4, 2}", "species_coeffs = " + fmt([-4.0, -3.0]),
        "moment_coeffs = " + fmt([xa, xa2, xb, xc, xex])]
print("\n".join(out))
