"""Reference values for `bgnbd::tests::expected_purchases_in_degenerate_limits` (mpmath 1.3.0).

BG/NBD fits on short or tiny data drift to limits with almost no dropout information: b → ∞
with a → 0, a → ∞ with b → 0, or a, b → ∞ with a/(a+b) fixed. There the conditional
expectation of Fader, Hardie & Lee (2005) eq. 10 is computed here in two independent ways,
at 40 significant digits:

1. eq. 10 as printed, with mpmath.hyp2f1 (skipped when mpmath's series is too slow);
2. its definition as an expectation over the posterior dropout probability: for a customer
   alive at T, E = E_p[(1 − (1 + p s)^(−(r+x))) / p] with s = t/(α+T) and p ~ Beta(a, b+x),
   integrated with mpmath.quad in u = −ln p (or u = −ln(1−p) when the mass is near 1), after
   subtracting the integrand's value at that end so the integrand decays like e^(−u);

then multiplied by P(alive) = 1/(1 + δ_{x>0} a/(b+x−1) ((α+T)/(α+tₓ))^(r+x)).

    python3 crates/value/reference/degenerate_bgnbd.py   # about a minute in all
"""

import mpmath as mp

mp.mp.dps = 40


def p_alive(r, alpha, a, b, x, tx, T):
    if x == 0:
        return mp.mpf(1)
    return 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))


def by_hyp2f1(r, alpha, a, b, x, T, t):
    z = t / (alpha + T + t)
    f = mp.hyp2f1(r + x, b + x, a + b + x - 1, z, maxterms=2 * 10**5)
    return (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * f)


def by_quadrature(r, alpha, a, b, x, T, t):
    s = t / (alpha + T)
    rp, bp = r + x, b + x

    def g(p):
        if p == 0:
            return rp * s
        return -mp.expm1(-rp * mp.log1p(p * s)) / p

    # Mass near 0 (a ≤ b+x): p = e^(−u), weight p^a (1−p)^(b+x−1) / B(a, b+x) per du.
    # Mass near 1: q = 1 − p = e^(−u), weight q^(b+x) (1−q)^(a−1) / B(a, b+x).
    near_zero = a <= bp
    lo, hi = (a, bp) if near_zero else (bp, a)
    end = g(mp.mpf(0)) if near_zero else g(mp.mpf(1))
    inv_b = 1 / mp.beta(a, bp)

    def integrand(u):
        e = mp.exp(-u)
        p = e if near_zero else 1 - e
        return (g(p) - end) * mp.exp(lo * (-u) + (hi - 1) * mp.log1p(-e)) * inv_b

    # Breakpoints: a unit grid, and a fine one around the mode of the weight.
    mode = -mp.log(lo / (lo + hi - 1)) if lo + hi > 1 else mp.mpf(1)
    width = 1 / mp.sqrt(max(lo, mp.mpf(1e-3)))
    pts = {mp.mpf(k) / 4 for k in range(1, 400)}
    pts |= {mode + k * width / 4 for k in range(-200, 201) if mode + k * width / 4 > 0}
    pts = [mp.mpf(0)] + sorted(pts) + [mp.inf]
    return end + mp.quad(integrand, pts)


CASES = [
    # a → ∞, b → 0 (everyone drops out after their next purchase); from a fit on 300
    # simulated customers over 30 days that the ₂F₁ series could not score.
    (0.0267, 2.21, 5.6e8, 1.8e-9, [(0, 0, 21), (1, 5, 21), (3, 20, 30)], [90]),
    # b → ∞, a → 0 (no dropout); the parameters of a reported run.
    (0.227, 35.7, 1.36e-7, 265764, [(0, 0, 30)], [90]),
    # a → 0 with a small b, a customer seen for a tenth of a period: the series loses every digit
    # (a proptest case that made E(t) decrease in t).
    ("0.22933", "25.5016", 0.05, "0.22483", [(0, 0, "0.1")], ["93.637", "46.8185"]),
    # Horizons too long for the sum over counts, with a or b large: the series must take over.
    (0.24, 4.4, 25, 0.5, [(2, 0.5, 1)], [1e7]),
    (0.24, 4.4, 0.5, 2e4, [(0, 0, 0)], [1e7]),
    (0.24, 1e-4, 21, 5, [(1, 0.5, 1)], [52]),
]

if __name__ == "__main__":
    for r, alpha, a, b, rows, horizons in CASES:
        r, alpha, a, b = map(mp.mpf, (r, alpha, a, b))
        for x, tx, T in rows:
            x, tx, T = map(mp.mpf, (x, tx, T))
            for t in horizons:
                t = mp.mpf(t)
                q = by_quadrature(r, alpha, a, b, x, T, t)
                try:
                    h = by_hyp2f1(r, alpha, a, b, x, T, t)
                    diff = mp.nstr(abs(h - q) / q, 3)
                except mp.libmp.libhyper.NoConvergence:
                    diff = "(hyp2f1 too slow)"
                e = q * p_alive(r, alpha, a, b, x, tx, T)
                print(f"r={mp.nstr(r, 6)} alpha={mp.nstr(alpha, 6)} a={mp.nstr(a, 6)} "
                      f"b={mp.nstr(b, 6)} x={int(x)} tx={mp.nstr(tx, 6)} T={mp.nstr(T, 6)} "
                      f"t={mp.nstr(t, 8)}: E = {mp.nstr(e, 20)}  (if alive {mp.nstr(q, 20)}; "
                      f"eq. 10 vs quadrature {diff})")
