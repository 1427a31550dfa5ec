"""Spectra (DESIGN §5): dense eigh, thick-restart block Lanczos (eigsh), the operators it runs on,
stochastic Lanczos quadrature, Hutchinson / Hutch++ traces and critical-point classification,
all against dense numpy eigendecompositions."""
import sys
import threading

import numpy as np
import pytest

import landscope as ls
from landscope.problems import build

# ---------------------------------------------------------------------------------------------
# problems


def _sym(n, seed):
    """A random symmetric matrix with a semicircle-like spectrum."""
    A = np.random.default_rng(seed).standard_normal((n, n))
    return (A + A.T) / 2


def _with_spectrum(vals, seed):
    """Q diag(vals) Qᵀ with a random orthogonal Q (made exactly symmetric)."""
    n = len(vals)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    A = (Q * vals) @ Q.T
    return (A + A.T) / 2


def _wanted(lam, which, k):
    """The k eigenvalues eigsh should return (ascending), from all eigenvalues `lam` (ascending)."""
    if which == "LA":
        return lam[-k:]
    if which == "SA":
        return lam[:k]
    if which == "BE":
        return np.r_[lam[: k // 2], lam[len(lam) - (k + 1) // 2 :]]
    return np.sort(lam[np.argsort(-np.abs(lam), kind="stable")[:k]])


def _check_pairs(A, r, tol=1e-12):
    """Eigenvectors orthonormal, and the reported residuals are the true ‖A x − λ x‖ (to tol·‖A‖)."""
    X = r.eigenvectors
    k = len(r.eigenvalues)
    assert X.shape == (A.shape[0], k) and r.residuals.shape == (k,)
    scale = np.linalg.norm(A, 2)
    true = np.linalg.norm(A @ X - X * r.eigenvalues, axis=0)
    np.testing.assert_allclose(r.residuals, true, rtol=0, atol=tol * scale)
    np.testing.assert_allclose(X.T @ X, np.eye(k), rtol=0, atol=1e-12)


def _data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    return X, np.tanh(X @ rng.standard_normal(d)), rng


def _shallow(n, d, m, seed=0):
    X, y, rng = _data(n, d, seed)
    net = ls.ShallowNet(X, y, width=m)
    return net, rng.standard_normal(net.num_params)


def _mlp(n, d, widths, seed=0):
    X, y, rng = _data(n, d, seed)
    net = ls.MLP(X, y, widths=widths)
    return net, rng.standard_normal(net.num_params)


@pytest.fixture(scope="module", params=["shallow", "mlp"])
def net_at_random_w(request):
    """A small network at w ~ N(0, 1) (an indefinite Hessian), its dense Hessian and spectrum."""
    net, w = _shallow(200, 16, 40) if request.param == "shallow" else _mlp(150, 8, [16, 16])
    H = net.hessian(w)
    return net, w, H, np.linalg.eigvalsh(H)


def _wasserstein1(x, p, y, q):
    """W1 = ∫|F − G| between the discrete measures Σ p_i δ(x_i) and Σ q_j δ(y_j) of equal mass."""
    pts = np.concatenate([x, y])
    order = np.argsort(pts, kind="stable")
    cdf_gap = np.cumsum(np.concatenate([p, -q])[order])[:-1]
    return float(np.sum(np.abs(cdf_gap) * np.diff(pts[order])))


# ---------------------------------------------------------------------------------------------
# eigsh on dense symmetric matrices


@pytest.mark.parametrize("n", [24, 300])  # 24 <= ncv + block_size: the dense path
@pytest.mark.parametrize("block_size", [1, 3])
@pytest.mark.parametrize("which", ["LA", "SA", "BE", "LM"])
def test_eigsh_matches_numpy(which, block_size, n):
    A = _sym(n, seed=n) + 0.3 * np.eye(n)  # shifted, so that LM differs from BE
    lam = np.linalg.eigvalsh(A)
    scale = np.abs(lam).max()
    for k in (1, 7):
        r = ls.eigsh(A, k=k, which=which, block_size=block_size)
        assert r.converged and r.num_converged == k and r.which == which and r.tol == 1e-10
        np.testing.assert_allclose(r.eigenvalues, _wanted(lam, which, k), rtol=0, atol=1e-8 * scale)
        _check_pairs(A, r)
        assert r.converged_mask.all()
        assert np.all(r.residuals <= r.tol * r.anorm)
        assert 0.5 * scale <= r.anorm <= scale * (1 + 1e-12)  # a lower estimate of ‖A‖₂
        vals, vecs = r
        assert vals is r.eigenvalues and vecs is r.eigenvectors


def test_eigsh_low_rank_and_scalar_matrices():
    # The Krylov space is exhausted after 5 (rank) or 1 (multiple of I) steps: deflation.
    rng = np.random.default_rng(0)
    U = rng.standard_normal((200, 5))
    A = U @ np.diag([5.0, 4.0, 3.0, -2.0, -1.0]) @ U.T
    A = (A + A.T) / 2
    lam = np.linalg.eigvalsh(A)
    for which in ("LA", "SA", "BE", "LM"):
        for b in (1, 3):
            r = ls.eigsh(A, k=8, which=which, block_size=b)
            np.testing.assert_allclose(r.eigenvalues, _wanted(lam, which, 8), rtol=0, atol=1e-10 * lam[-1])
            _check_pairs(A, r)
    for c in (0.0, 2.0):
        r = ls.eigsh(c * np.eye(200), k=4, block_size=3)
        np.testing.assert_allclose(r.eigenvalues, c, rtol=0, atol=1e-14)
        np.testing.assert_allclose(r.eigenvectors.T @ r.eigenvectors, np.eye(4), rtol=0, atol=1e-12)


def test_eigsh_with_start_vectors():
    A = _sym(200, seed=1)
    lam, U = np.linalg.eigh(A)
    # An exact eigenvector as the start: the Krylov space is invariant after one product.
    r = ls.eigsh(A, k=4, v0=U[:, -1])
    np.testing.assert_allclose(r.eigenvalues, lam[-4:], rtol=0, atol=1e-10 * lam[-1])
    _check_pairs(A, r)
    V0 = np.random.default_rng(2).standard_normal((200, 2))
    r = ls.eigsh(A, k=4, which="SA", block_size=3, v0=V0)
    np.testing.assert_allclose(r.eigenvalues, lam[:4], rtol=0, atol=1e-10 * lam[-1])
    _check_pairs(A, r)


@pytest.mark.parametrize("tol", [1e-4, 1e-10])
def test_eigsh_with_a_linearly_dependent_start_block(tol):
    A = _sym(200, seed=1)
    lam = np.linalg.eigvalsh(A)
    r = ls.eigsh(A, k=4, which="SA", block_size=2, v0=np.ones((200, 2)), tol=tol, maxiter=200)
    np.testing.assert_allclose(r.eigenvalues, lam[:4], rtol=0, atol=tol * np.abs(lam).max())
    _check_pairs(A, r, tol=1e-8)


# ---------------------------------------------------------------------------------------------
# repeated and clustered eigenvalues


def _triple_top(seed, n=300):
    """Eigenvalue 1 of multiplicity 3 on top of a bulk in [-1, 0.99]."""
    vals = np.sort(np.random.default_rng(100 + seed).uniform(-1, 0.99, n))
    vals[-3:] = 1.0
    return _with_spectrum(vals, seed), vals


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("block_size", [3, 4])
def test_block_size_at_least_the_multiplicity_finds_every_copy(block_size, seed):
    A, vals = _triple_top(seed)
    for k in (3, 5):
        r = ls.eigsh(A, k=k, which="LA", block_size=block_size, seed=seed)
        np.testing.assert_allclose(r.eigenvalues, vals[-k:], rtol=0, atol=1e-8)
        _check_pairs(A, r)
        # The three copies span the whole eigenspace.
        P = r.eigenvectors[:, -3:]
        np.testing.assert_allclose(A @ P, P, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_block_size_one_with_a_repeated_eigenvalue_returns_genuine_eigenpairs(seed):
    # Single-vector Lanczos sees one direction of the eigenspace (other copies only arise from
    # rounding), so it may miss copies; what it does return are true eigenpairs, the largest
    # eigenvalue among them.
    A, vals = _triple_top(seed)
    lam = np.linalg.eigvalsh(A)
    r = ls.eigsh(A, k=3, which="LA", block_size=1, seed=seed)
    assert r.eigenvalues[-1] == pytest.approx(1.0, abs=1e-8)
    _check_pairs(A, r)
    dist = np.abs(r.eigenvalues[:, None] - lam[None, :]).min(axis=1)
    assert np.all(dist <= r.residuals + 1e-12)  # each Ritz value is within its residual of λ(A)


@pytest.mark.parametrize("block_size", [1, 4])
def test_tightly_clustered_eigenvalues_are_resolved(block_size):
    n = 300
    vals = np.sort(np.random.default_rng(7).uniform(-1, 0.9, n))
    vals[-4:] = 1 + 1e-6 * np.arange(4)  # relative gaps of 1e-6
    A = _with_spectrum(vals, seed=7)
    lam = np.linalg.eigvalsh(A)
    r = ls.eigsh(A, k=6, which="LA", block_size=block_size)
    np.testing.assert_allclose(r.eigenvalues, lam[-6:], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.diff(r.eigenvalues[-4:]), 1e-6, rtol=1e-3)
    _check_pairs(A, r)


# ---------------------------------------------------------------------------------------------
# model operators


@pytest.mark.parametrize("which", ["SA", "LA"])
def test_hessian_extremes_of_networks(net_at_random_w, which):
    net, w, H, lam = net_at_random_w
    assert 0.3 < np.mean(lam < 0) < 0.7  # indefinite: about half the eigenvalues negative
    r = ls.eigsh(net.hessian_operator(w), k=10, which=which)
    np.testing.assert_allclose(r.eigenvalues, _wanted(lam, which, 10), rtol=0, atol=1e-8 * np.abs(lam).max())
    _check_pairs(H, r)


@pytest.mark.parametrize("kind", ["shallow", "mlp"])
def test_tangent_kernel_smallest_eigenvalues(kind):
    net, w = _shallow(100, 16, 60) if kind == "shallow" else _mlp(60, 16, [32, 32])
    K = net.tangent_kernel(w)
    mu = np.linalg.eigvalsh(K)
    r = ls.eigsh(net.kernel_operator(w), k=5, which="SA")
    np.testing.assert_allclose(r.eigenvalues, mu[:5], rtol=0, atol=1e-8 * mu[-1])
    _check_pairs(K, r)


def test_gauss_newton_top_eigenvalues(net_at_random_w):
    net, w, _, _ = net_at_random_w
    G = net.hessian_parts(w)[0]
    g = np.linalg.eigvalsh(G)
    r = ls.eigsh(net.gauss_newton_operator(w), k=6, which="LA")
    np.testing.assert_allclose(r.eigenvalues, g[-6:], rtol=0, atol=1e-8 * g[-1])
    _check_pairs(G, r)


def test_operator_products_match_dense(net_at_random_w):
    net, w, H, _ = net_at_random_w
    P = net.num_params
    rng = np.random.default_rng(3)
    V, v = rng.standard_normal((P, 3)), rng.standard_normal(P)
    Hop = net.hessian_operator(w)
    assert Hop.shape == (P, P) and Hop.dtype == np.float64
    atol = 1e-12 * np.abs(H).max() * np.sqrt(P)
    np.testing.assert_allclose(Hop.matmat(V), H @ V, rtol=0, atol=atol)
    np.testing.assert_allclose(Hop.matmat(V), net.hvp(w, V), rtol=0, atol=atol)
    np.testing.assert_allclose(Hop.matvec(v), H @ v, rtol=0, atol=atol)
    np.testing.assert_allclose(Hop @ v, H @ v, rtol=0, atol=atol)
    assert Hop.matvec(v[:, None]).shape == (P, 1)
    np.testing.assert_allclose(Hop.to_dense(), H, rtol=0, atol=atol)

    G = net.hessian_parts(w)[0]
    np.testing.assert_allclose(net.gauss_newton_operator(w).matmat(V), G @ V, rtol=0,
                               atol=1e-12 * np.abs(G).max() * np.sqrt(P))
    K = net.tangent_kernel(w)
    Kop = net.kernel_operator(w)
    assert Kop.shape == K.shape
    U = rng.standard_normal((K.shape[0], 2))
    np.testing.assert_allclose(Kop.matmat(U), K @ U, rtol=0, atol=1e-12 * np.abs(K).max() * K.shape[0])


def test_operator_keeps_its_model_alive():
    net, w = _shallow(64, 4, 16)
    H = net.hessian(w)
    op = net.hessian_operator(w)
    del net
    v = np.ones(H.shape[0])
    np.testing.assert_allclose(op.matvec(v), H @ v, rtol=1e-12, atol=1e-12)


def test_scipy_eigsh_on_a_landscope_operator(net_at_random_w):
    sla = pytest.importorskip("scipy.sparse.linalg")
    net, w, _, lam = net_at_random_w
    op = net.hessian_operator(w)
    scale = np.abs(lam).max()
    vals = sla.eigsh(op, k=4, which="LA", tol=1e-12, return_eigenvectors=False)
    np.testing.assert_allclose(np.sort(vals), lam[-4:], rtol=0, atol=1e-8 * scale)
    vals = sla.eigsh(op.to_scipy(), k=4, which="SA", tol=1e-12, return_eigenvectors=False)
    np.testing.assert_allclose(np.sort(vals), lam[:4], rtol=0, atol=1e-8 * scale)


@pytest.mark.parametrize("problem", ["M1", pytest.param("S1", marks=pytest.mark.slow)])
def test_benchmark_hessians_against_eigvalsh(problem):
    # The indefinite bench Hessians (w ~ N(0,1), about half the eigenvalues negative),
    # 10 eigenvalues at each end against the dense spectrum.
    model, w = build(problem)
    lam = np.linalg.eigvalsh(model.hessian(w))
    assert 0.25 < np.mean(lam < 0) < 0.75
    op = model.hessian_operator(w)
    scale = np.abs(lam).max()
    for which, ref in (("LA", lam[-10:]), ("SA", lam[:10])):
        r = ls.eigsh(op, k=10, which=which)
        np.testing.assert_allclose(r.eigenvalues, ref, rtol=0, atol=1e-8 * scale)
        X = r.eigenvectors
        np.testing.assert_allclose(np.linalg.norm(op.matmat(X) - X * r.eigenvalues, axis=0), r.residuals,
                                   rtol=0, atol=1e-12 * scale)
        assert np.all(r.residuals <= r.tol * r.anorm)


def test_eigsh_accepts_callables_and_scipy_operators():
    sp = pytest.importorskip("scipy.sparse")
    sla = pytest.importorskip("scipy.sparse.linalg")
    A = _sym(150, seed=4)
    lam = np.linalg.eigvalsh(A)
    expected = lam[-5:]
    sources = [
        dict(op=lambda v: A @ v, n=150),
        dict(op=ls.as_operator(lambda X: A @ X, 150, blocks=True), block_size=2),
        dict(op=sla.aslinearoperator(A)),
        dict(op=sp.csr_matrix(A)),
    ]
    for kw in sources:
        r = ls.eigsh(k=5, **kw)
        np.testing.assert_allclose(r.eigenvalues, expected, rtol=0, atol=1e-8 * np.abs(lam).max())
        _check_pairs(A, r)


# ---------------------------------------------------------------------------------------------
# dense eigh


def test_eigh_all_pairs():
    A = _sym(80, seed=5)
    lam, U = np.linalg.eigh(A)
    w, V = ls.eigh(A)
    np.testing.assert_allclose(w, lam, rtol=0, atol=1e-12 * np.abs(lam).max())
    np.testing.assert_allclose(A @ V, V * w, rtol=0, atol=1e-12 * np.abs(lam).max())
    np.testing.assert_allclose(V.T @ V, np.eye(80), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ls.eigh(A, eigvals_only=True), lam, rtol=0, atol=1e-12 * np.abs(lam).max())


@pytest.mark.parametrize("backend", ["scipy", "numpy"])
def test_eigh_subsets(backend, monkeypatch):
    if backend == "numpy":
        monkeypatch.setitem(sys.modules, "scipy.linalg", None)  # the fallback without scipy
    else:
        pytest.importorskip("scipy.linalg")
    A = _sym(60, seed=6)
    lam, U = np.linalg.eigh(A)
    atol = 1e-12 * np.abs(lam).max()
    w, V = ls.eigh(A, subset_by_index=(3, 9))
    np.testing.assert_allclose(w, lam[3:10], rtol=0, atol=atol)
    np.testing.assert_allclose(np.abs(np.sum(V * U[:, 3:10], axis=0)), 1, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ls.eigh(A, subset_by_index=(0, 0), eigvals_only=True), lam[:1], rtol=0, atol=atol)
    # (a, b) between eigenvalues, so that rounding cannot move one across an end.
    a, b = (lam[20] + lam[21]) / 2, (lam[40] + lam[41]) / 2
    w, V = ls.eigh(A, subset_by_value=(a, b))
    np.testing.assert_allclose(w, lam[21:41], rtol=0, atol=atol)
    np.testing.assert_allclose(A @ V, V * w, rtol=0, atol=atol)
    # Half-open (a, b]: exact eigenvalues at both ends.
    D = np.diag([0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(ls.eigh(D, subset_by_value=(1.0, 3.0), eigvals_only=True), [2.0, 3.0])
    assert ls.eigh(D, subset_by_value=(4.0, 5.0), eigvals_only=True).size == 0


# ---------------------------------------------------------------------------------------------
# classify


def test_classify_product_toy():
    c = ls.classify(ls.ProductToy(2), np.zeros(2))
    assert (c.verdict, c.method, c.index, c.index_exact) == ("strict saddle", "dense", 1, True)
    assert c.lambda_min == pytest.approx(-1, abs=1e-14) and c.lambda_max == pytest.approx(1, abs=1e-14)
    assert c.loss == 0.5 and c.gradient_norm == 0

    c = ls.classify(ls.ProductToy(2), np.array([2.0, 0.5]))  # on the valley x1·x2 = 1
    assert (c.verdict, c.index, c.loss, c.gradient_norm) == ("degenerate", 0, 0, 0)
    assert abs(c.lambda_min) <= c.threshold and c.lambda_min > -1e-12
    assert c.lambda_max == pytest.approx(4.25, rel=1e-14)  # trace of [[0.25, 1], [1, 4]]

    c = ls.classify(ls.ProductToy(3), np.zeros(3))  # the Hessian vanishes
    assert (c.verdict, c.lambda_min, c.lambda_max, c.index, c.loss) == ("degenerate", 0, 0, 0, 0.5)

    c = ls.classify(ls.ProductToy(1), np.array([1.0]))
    assert (c.verdict, c.lambda_min, c.index) == ("local minimum", 1.0, 0)

    x = np.array([1.0, 2.0])  # gradient (x1 x2 − 1)(x2, x1) = (2, 1)
    c = ls.classify(ls.ProductToy(2), x)
    assert c.verdict == "not critical" and c.gradient_norm == pytest.approx(np.sqrt(5), rel=1e-14)
    assert ls.classify(ls.ProductToy(2), x, grad_tol=10.0).verdict == "strict saddle"  # H = [[4, 3], [3, 1]]


def test_classify_large_model_by_lanczos_and_slq(net_at_random_w):
    net, w, _, lam = net_at_random_w
    dense = ls.classify(net, w, grad_tol=1e9)
    exact = int(np.sum(lam < -dense.threshold))
    assert (dense.verdict, dense.method, dense.index, dense.index_exact) == ("strict saddle", "dense", exact, True)
    assert ls.classify(net, w).verdict == "not critical"  # w ~ N(0, 1) is no critical point

    c = ls.classify(net, w, grad_tol=1e9, dense_max=100)
    assert (c.verdict, c.method, c.index_exact) == ("strict saddle", "lanczos+slq", False)
    scale = np.abs(lam).max()
    np.testing.assert_allclose(c.bottom, lam[:6], rtol=0, atol=1e-8 * scale)
    assert c.lambda_min == pytest.approx(lam[0], abs=1e-8 * scale)
    assert c.lambda_max == pytest.approx(lam[-1], abs=1e-8 * scale)
    assert int(np.sum(lam < -c.threshold)) == exact
    assert c.index_error > 0
    assert abs(c.index - exact) <= 3 * c.index_error + 2 and abs(c.index - exact) < 0.1 * net.num_params


def test_classify_large_model_with_few_negative_eigenvalues():
    # A teacher network: at the teacher's weights the loss is 0 and H = JᵀJ (P < n: positive
    # definite); with noisy targets a few eigenvalues turn negative.
    X, _, rng = _data(300, 8, seed=2)
    teacher = ls.ShallowNet(X, np.zeros(300), width=20)
    w = rng.standard_normal(teacher.num_params)
    y = teacher.outputs(w).ravel()

    c = ls.classify(ls.ShallowNet(X, y, width=20), w, dense_max=50)
    assert (c.verdict, c.method, c.index, c.index_exact, c.loss) == ("local minimum", "lanczos", 0, True, 0)

    noisy = ls.ShallowNet(X, y + 0.05 * rng.standard_normal(300), width=20)
    lam = np.linalg.eigvalsh(noisy.hessian(w))
    neg = int(np.sum(lam < -1e-6 * max(1.0, np.abs(lam).max())))  # classify's threshold at tol=1e-6
    assert 5 <= neg < 60
    c = ls.classify(noisy, w, grad_tol=1e9, dense_max=50, k=neg + 5)
    assert (c.verdict, c.method, c.index, c.index_exact) == ("strict saddle", "lanczos", neg, True)
    np.testing.assert_allclose(c.bottom, lam[: neg + 5], rtol=0, atol=1e-8 * np.abs(lam).max())


# ---------------------------------------------------------------------------------------------
# stochastic Lanczos quadrature


def test_slq_matches_the_exact_spectrum(net_at_random_w):
    net, w, _, lam = net_at_random_w
    P = net.num_params
    d = ls.spectral_density(net.hessian_operator(w), num_probes=10, steps=80, seed=0)
    assert d.nodes.shape == d.weights.shape == (10, 80) and d.n == P and d.products == 800
    assert np.all(d.weights >= 0)
    np.testing.assert_allclose(d.weights.sum(axis=1), 1, rtol=0, atol=1e-12)
    assert lam[0] - 1e-8 <= d.nodes.min() and d.nodes.max() <= lam[-1] + 1e-8  # Ritz values interlace

    uniform = np.full(P, 1 / P)
    assert _wasserstein1(lam, uniform, lam + 0.1, uniform) == pytest.approx(0.1, rel=1e-9)
    w1 = _wasserstein1(d.nodes.ravel(), d.weights.ravel() / d.num_probes, lam, uniform)
    assert w1 < 0.01 * (lam[-1] - lam[0])

    est, err = d.count_below(0.0)
    exact = int(np.sum(lam < 0))
    assert abs(est - exact) <= 3 * err and abs(est - exact) < 0.05 * P
    assert d.count_below(lam[-1] + 1)[0] == pytest.approx(P, rel=1e-12)
    assert d.count_below(lam[0] - 1)[0] == 0
    tr, tr_err = d.trace()
    assert abs(tr - lam.sum()) <= 3 * tr_err
    assert np.trapezoid(d.density, d.grid) == pytest.approx(1, abs=1e-3)


def test_slq_density_is_the_smoothed_quadrature():
    A = _sym(120, seed=8)
    grid = np.linspace(-12, 12, 101)
    d = ls.spectral_density(A, num_probes=6, steps=30, seed=2, grid=grid, sigma=0.5)
    np.testing.assert_array_equal(d.grid, grid)
    z = (grid[:, None, None] - d.nodes[None]) / 0.5
    expected = np.sum(np.exp(-0.5 * z**2) * d.weights[None], axis=(1, 2)) / (6 * 0.5 * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(d.density, expected, rtol=1e-12, atol=1e-15)
    assert d.sigma == 0.5 and d.num_probes == 6 and d.seed == 2


def test_slq_exact_on_few_distinct_eigenvalues():
    # Five distinct eigenvalues: each probe's Krylov space is exhausted after 5 steps, the nodes
    # are the eigenvalues and the rest of each row is zero weight.
    vals = np.repeat([-2.0, -0.5, 0.25, 1.0, 3.0], [50, 70, 80, 60, 40])
    A = _with_spectrum(vals, seed=5)
    d = ls.spectral_density(A, num_probes=8, steps=80, seed=3)
    assert d.products == 8 * 5
    np.testing.assert_allclose(d.nodes[:, :5], np.tile([-2.0, -0.5, 0.25, 1.0, 3.0], (8, 1)), rtol=0, atol=1e-12)
    assert np.all(d.weights[:, :5] > 0) and np.all(d.weights[:, 5:] == 0)
    # n Σ τ θ is zᵀ A z: probe for probe, Hutchinson's samples with the same seed.
    hutch = ls.trace(A, num_probes=8, method="hutchinson", seed=3)
    np.testing.assert_allclose(d.n * np.sum(d.weights * d.nodes, axis=1), hutch.samples, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# trace


@pytest.mark.parametrize("method", ["hutchinson", "hutch++"])
def test_trace_of_a_hessian(net_at_random_w, method):
    net, w, H, _ = net_at_random_w
    t = ls.trace(net.hessian_operator(w), num_probes=60, method=method, seed=1)
    assert t.method == method and t.num_probes == 60 and t.products == 60
    assert t.samples.shape == ((60,) if method == "hutchinson" else (20,))
    assert 0 < t.standard_error and abs(t.estimate - np.trace(H)) <= 3 * t.standard_error
    assert float(t) == t.estimate


def test_hutchpp_beats_hutchinson_on_a_decaying_spectrum():
    vals = 1.0 / np.arange(1, 401) ** 2
    A = _with_spectrum(vals, seed=9)
    exact = vals.sum()
    h = ls.trace(A, num_probes=60, method="hutchinson", seed=0)
    pp = ls.trace(A, num_probes=60, method="hutch++", seed=0)
    for t in (h, pp):
        assert abs(t.estimate - exact) <= 3 * t.standard_error
    assert pp.standard_error < 0.1 * h.standard_error
    assert abs(pp.estimate - exact) < 0.1 * h.standard_error


# ---------------------------------------------------------------------------------------------
# determinism


def test_seeded_runs_are_reproducible(net_at_random_w):
    net, w, _, _ = net_at_random_w
    op = net.hessian_operator(w)
    a, b = ls.eigsh(op, k=5, seed=3), ls.eigsh(op, k=5, seed=3)
    for x, y in [(a.eigenvalues, b.eigenvalues), (a.eigenvectors, b.eigenvectors), (a.residuals, b.residuals)]:
        np.testing.assert_array_equal(x, y)
    assert (a.products, a.restarts) == (b.products, b.restarts)
    c = ls.eigsh(op, k=5, seed=4)
    np.testing.assert_allclose(c.eigenvalues, a.eigenvalues, rtol=1e-9)
    assert not np.array_equal(c.eigenvectors, a.eigenvectors)  # the seed sets the start vector

    d1, d2, d3 = (ls.spectral_density(op, num_probes=4, steps=20, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(d1.nodes, d2.nodes)
    np.testing.assert_array_equal(d1.weights, d2.weights)
    np.testing.assert_array_equal(d1.density, d2.density)
    assert not np.array_equal(d1.weights, d3.weights)
    for method in ("hutchinson", "hutch++"):
        t1, t2, t3 = (ls.trace(op, num_probes=12, method=method, seed=s) for s in (1, 1, 2))
        assert (t1.estimate, t1.standard_error) == (t2.estimate, t2.standard_error)
        np.testing.assert_array_equal(t1.samples, t2.samples)
        assert t1.estimate != t3.estimate


def test_probe_batching_does_not_change_the_estimates():
    A = _sym(150, seed=12)
    base = ls.spectral_density(A, num_probes=7, steps=40, seed=5, block=1)
    for block in (3, 7, 10):
        d = ls.spectral_density(A, num_probes=7, steps=40, seed=5, block=block)
        np.testing.assert_allclose(d.nodes, base.nodes, rtol=0, atol=1e-12 * np.abs(base.nodes).max())
        np.testing.assert_allclose(d.weights, base.weights, rtol=0, atol=1e-12)
        assert d.products == base.products == 7 * 40
    for method in ("hutchinson", "hutch++"):
        base = ls.trace(A, num_probes=13, method=method, seed=5, block=1)
        for block in (3, 20):
            t = ls.trace(A, num_probes=13, method=method, seed=5, block=block)
            assert t.estimate == pytest.approx(base.estimate, abs=1e-12 * A.shape[0] * np.abs(A).max())
            assert t.products == 13


@pytest.mark.parametrize("problem", ["S1", "M1"])
def test_concurrent_solves_on_one_operator_match_sequential_ones(problem):
    model, w = build(problem)
    op = model.hessian_operator(w)
    jobs = [dict(k=8, which="SA", seed=1), dict(k=8, which="LA", block_size=2, seed=2)]
    sequential = [ls.eigsh(op, **job) for job in jobs]
    for _ in range(3):
        out = [None, None]
        start = threading.Barrier(2)

        def solve(i):
            start.wait()
            out[i] = ls.eigsh(op, **jobs[i])

        threads = [threading.Thread(target=solve, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for seq, par in zip(sequential, out):
            np.testing.assert_array_equal(par.eigenvalues, seq.eigenvalues)
            np.testing.assert_array_equal(par.eigenvectors, seq.eigenvectors)
            np.testing.assert_array_equal(par.residuals, seq.residuals)


# ---------------------------------------------------------------------------------------------
# errors

_A = _sym(40, seed=10)


def _with_nan(A):
    A = A.copy()
    A[3, 3] = np.nan
    return A


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: ls.eigsh(_A, k=40), ValueError, r"^k: expected k < n = 40"),
        (lambda: ls.eigsh(_A, k=0), ValueError, r"^k: expected an integer >= 1"),
        (lambda: ls.eigsh(_A, k=2.0), TypeError, r"^k: expected an integer"),
        (lambda: ls.eigsh(_A, which="la"), ValueError, r"^which: expected one of"),
        (lambda: ls.eigsh(_A, tol=0), ValueError, r"^tol: expected 0 < tol < 1"),
        (lambda: ls.eigsh(_A, tol=-1e-8), ValueError, r"^tol: expected 0 < tol < 1"),
        (lambda: ls.eigsh(_A, block_size=0), ValueError, r"^block_size: expected an integer >= 1"),
        (lambda: ls.eigsh(_A, k=6, ncv=6), ValueError, r"^ncv: expected k \+ block_size = 7 <= ncv"),
        (lambda: ls.eigsh(_A, maxiter=0), ValueError, r"^maxiter: expected an integer >= 1"),
        (lambda: ls.eigsh(_A, v0=np.ones(39)), ValueError, r"^v0: expected shape \(40,\)"),
        (lambda: ls.eigsh(_A, v0=np.ones((40, 2))), ValueError, r"^v0: expected shape .* c <= block_size = 1"),
        (lambda: ls.eigsh(_A, v0=np.zeros(40)), ValueError, r"^v0: every start vector must be nonzero"),
        (lambda: ls.eigsh(_A, seed=-1), ValueError, r"^seed: expected an integer >= 0"),
        (lambda: ls.eigsh(np.ones((40, 41))), ValueError, r"^op: expected a non-empty square \(n, n\) matrix"),
        (lambda: ls.eigsh(_A + np.triu(np.ones((40, 40)), 1)), ValueError, r"^op: expected a symmetric matrix"),
        (lambda: ls.eigsh(_with_nan(_A)), ValueError, r"^op: contains NaN or Inf \(first at index \(3, 3\)\)"),
        (lambda: ls.eigsh("A"), TypeError, r"^op: expected an Operator"),
        (lambda: ls.eigsh(lambda v: v), ValueError, r"^n: the size of the operator is required"),
        (lambda: ls.eigsh(lambda v: np.full_like(v, np.nan), n=40), ValueError, r"^op: the product contains NaN"),
        (lambda: ls.eigsh(lambda v: v[:-1], n=40), ValueError, r"^op: the callable returned shape \(39,\)"),
        (lambda: ls.eigsh(lambda v: "x", n=40), ValueError, r"^op: the callable returned <class 'str'>"),
        (lambda: ls.spectral_density(lambda v: v[:-1], n=40), ValueError, r"^op: the callable returned shape"),
        (lambda: ls.spectral_density(_A, num_probes=0), ValueError, r"^num_probes: expected an integer >= 1"),
        (lambda: ls.spectral_density(_A, steps=0), ValueError, r"^steps: expected an integer >= 1"),
        (lambda: ls.spectral_density(_A, sigma=0.0), ValueError, r"^sigma: expected sigma > 0"),
        (lambda: ls.trace(_A, num_probes=1, method="hutchinson"), ValueError, r"^num_probes: expected an integer >= 2"),
        (lambda: ls.trace(_A, num_probes=3, method="hutch++"), ValueError, r"^num_probes: expected an integer >= 4"),
        (lambda: ls.trace(_A, method="lanczos"), ValueError, r"^method: expected 'hutchinson' or 'hutch\+\+'"),
        (lambda: ls.trace(lambda v: np.full_like(v, np.inf), n=40), ValueError, r"^op: the product contains NaN"),
        (lambda: ls.as_operator(_A).matmat(np.ones(40)), ValueError, r"^X: expected shape \(40, b\)"),
        (lambda: ls.as_operator(_A).matvec(np.ones(39)), ValueError, r"^v: expected shape \(40,\)"),
        (lambda: ls.classify(_A, np.zeros(40)), TypeError, r"^model: expected a landscope model, got ndarray"),
        (lambda: ls.classify(ls.ProductToy(2), np.zeros(3)), ValueError, r"^w: expected shape \(2,\)"),
        (lambda: ls.eigh(np.ones((3, 4))), ValueError, r"^A: expected a non-empty square"),
        (lambda: ls.eigh(np.ones((0, 0))), ValueError, r"^A: expected a non-empty square"),
        (lambda: ls.eigh(np.eye(3, dtype=complex)), TypeError, r"^A: expected a real floating-point"),
        (lambda: ls.eigh(_with_nan(_A)), ValueError, r"^A: contains NaN or Inf"),
        (lambda: ls.eigh(_A, subset_by_index=(3, 40)), ValueError, r"^subset_by_index: expected 0 <= lo <= hi < 40"),
        (lambda: ls.eigh(_A, subset_by_value=(1.0, -1.0)), ValueError, r"^subset_by_value: expected a < b"),
        (lambda: ls.eigh(_A, subset_by_index=(0, 1), subset_by_value=(0, 1)), ValueError,
         r"^subset_by_index, subset_by_value: give at most one"),
    ],
)
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("source", ["array", "Operator"])
def test_contradicting_n_is_rejected(source):
    op = _A if source == "array" else ls.as_operator(_A)
    with pytest.raises(ValueError, match="^n: "):
        ls.eigsh(op, k=2, n=39)


def test_errors_raised_inside_the_operator_or_callback_propagate():
    class Boom(Exception):
        pass

    def explode(_):
        raise Boom

    with pytest.raises(Boom):
        ls.eigsh(explode, n=40)
    with pytest.raises(Boom):
        ls.eigsh(_sym(200, seed=11), callback=explode)


def _hard_spectrum():
    """Three well separated top eigenvalues (10, 20, 30) over a bulk in [-1, 1]."""
    vals = np.r_[np.random.default_rng(3).uniform(-1, 1, 297), [10.0, 20.0, 30.0]]
    return _with_spectrum(vals, seed=3)


def test_convergence_error_carries_the_converged_pairs():
    A = _hard_spectrum()
    lam = np.linalg.eigvalsh(A)
    with pytest.raises(ls.ConvergenceError, match="did not converge in 1 restarts") as info:
        ls.eigsh(A, k=6, ncv=10, maxiter=1)
    e = info.value
    r = e.result
    assert not r.converged and r.restarts == 1 and 0 < r.num_converged < 6
    assert len(e.eigenvalues) == r.num_converged == int(r.converged_mask.sum())
    assert np.all(e.residuals <= r.tol * r.anorm)
    assert {10.0, 20.0, 30.0} <= {round(x, 8) for x in e.eigenvalues}
    np.testing.assert_allclose(A @ e.eigenvectors, e.eigenvectors * e.eigenvalues, rtol=0, atol=1e-9 * lam[-1])
    _check_pairs(A, r)  # the unconverged Ritz pairs of the last iterate too


def test_callback_sees_progress_and_can_stop_the_solver():
    A = _hard_spectrum()
    calls = []
    reference = ls.eigsh(A, k=6)
    watched = ls.eigsh(A, k=6, callback=lambda p: calls.append(dict(p)))  # None: go on
    np.testing.assert_array_equal(watched.eigenvectors, reference.eigenvectors)
    assert calls and [c["restarts"] for c in calls] == list(range(len(calls)))
    assert set(calls[0]) == {"restarts", "products", "converged", "wanted", "max_residual"}
    assert all(c["wanted"] == 6 and 0 <= c["converged"] <= 6 for c in calls)

    with pytest.raises(ls.ConvergenceError, match="stopped by the callback") as info:
        ls.eigsh(A, k=6, callback=lambda p: False)
    e = info.value
    assert e.result.restarts == 0 and not e.result.converged
    assert np.all(e.residuals <= e.result.tol * e.result.anorm)
    _check_pairs(A, e.result)
