import numpy as np


def central_gradient(f, w, h=1e-5):
    g = np.empty_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        g[i] = (f(w + e) - f(w - e)) / (2 * h)
    return g


def central_jacobian(f, w, h=1e-5):
    cols = []
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        cols.append((np.asarray(f(w + e)) - np.asarray(f(w - e))).ravel() / (2 * h))
    return np.stack(cols, axis=1)


def rel_err(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)
