"""Generates the erfc coefficients of cpp/src/activation.cpp (the vectorized gelu).

tests/test_activation.py checks that the source holds exactly these doubles.

For z in [0, 4], erfcx(z) = e^{z²} erfc(z), and for z in [4, 27.5], z erfcx(z) (nearly
constant there, so the rounding of the variable below hardly matters), are interpolated at
N Chebyshev nodes in the variable u = (z − k)/(z + k), mapped to s in [−1, 1], and converted to
monomials in s; everything at 40 digits with mpmath. The sums of the coefficients' magnitudes
are about 1 and 0.6, so Horner's rule evaluates them stably. Beyond z = 27.5 (x < −38.9), Φ(x)
is below the smallest double. Run: python tests/erfcx_coefficients.py (prints the two C++ arrays).
"""
import mpmath as mp

mp.mp.dps = 40
N = 18


def erfcx(z):
    return mp.erfc(z) * mp.exp(z * z)


INTERVALS = [(0.0, 4.0, 4.0, erfcx), (4.0, 27.5, 2.0, lambda z: z * erfcx(z))]  # (z_lo, z_hi, k, f)


def coefficients(lo, hi, k, f):
    """u's range and the monomial coefficients in s of f, lowest degree first."""
    ulo, uhi = mp.mpf(lo - k) / (lo + k), mp.mpf(hi - k) / (hi + k)

    def g(s):
        u = (ulo + uhi) / 2 + (uhi - ulo) / 2 * s
        return f(k * (1 + u) / (1 - u))

    nodes = [mp.cos(mp.pi * (j + mp.mpf(0.5)) / N) for j in range(N)]
    values = [g(s) for s in nodes]
    c = [2 * mp.fsum(values[j] * mp.cos(mp.pi * i * (j + mp.mpf(0.5)) / N) for j in range(N)) / N for i in range(N)]
    c[0] /= 2
    # Chebyshev series -> monomials: T_0 = 1, T_1 = s, T_n = 2 s T_{n-1} - T_{n-2}
    T = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    for n in range(2, N):
        a = [mp.mpf(0)] + [2 * t for t in T[n - 1]]
        T.append([p - q for p, q in zip(a, T[n - 2] + [mp.mpf(0)] * 2)])
    mono = [mp.fsum(c[n] * T[n][i] for n in range(i, N) if i < len(T[n])) for i in range(N)]
    return ulo, uhi, mono


if __name__ == "__main__":
    for lo, hi, k, f in INTERVALS:
        ulo, uhi, mono = coefficients(lo, hi, k, f)
        print(f"// z in [{lo}, {hi}], k = {k}: u in [{mp.nstr(ulo, 17)}, {mp.nstr(uhi, 17)}], "
              f"sum of |coefficients| {mp.nstr(mp.fsum(abs(m) for m in mono), 3)}, highest degree first")
        print("{" + ", ".join(repr(float(x)) for x in reversed(mono)) + "}")  # correctly rounded
