"""Small instances of every model family, activation and loss, shared by the tests."""
import numpy as np

import landscope as ls

ACTIVATIONS = ["identity", "tanh", "sigmoid", "softplus", "gelu", "silu", "relu"]


def data(seed=0, n=6, d=3, k=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, k))


def labels(seed=0, n=6, k=3):
    return np.random.default_rng(seed + 1).integers(0, k, n)


# name -> (factory, kwargs for the numpy reference)
def cases():
    X, Y = data()
    X2, Y2 = data(1, k=2)
    out = {
        "least_squares": lambda: ls.LeastSquares(X, Y2),
        "least_squares_mean": lambda: ls.LeastSquares(X, Y2, reduction="mean"),
        "deep_linear": lambda: ls.DeepLinear(X, Y2, [4, 3]),
        "deep_linear_mean": lambda: ls.DeepLinear(X, Y2, [2], reduction="mean"),
        "product_toy3": lambda: ls.ProductToy(3),
        "product_toy5": lambda: ls.ProductToy(5),
        "shallow_trained_v": lambda: ls.ShallowNet(X, Y[:, 0], 5, activation="tanh", train_output=True),
        "shallow_given_v": lambda: ls.ShallowNet(X, Y[:, 0], 4, activation="softplus",
                                                  output_weights=np.array([0.5, -1.0, 2.0, 0.1])),
    }
    for act in ACTIVATIONS:
        out[f"shallow_{act}"] = (lambda a: lambda: ls.ShallowNet(X, Y[:, 0], 5, activation=a))(act)
        out[f"mlp_ntk_{act}"] = (lambda a: lambda: ls.MLP(X, Y2, [4, 4], activation=a))(act)
        out[f"mlp_std_bias_res_{act}"] = (lambda a: lambda: ls.MLP(
            X, Y2, [4, 4, 4], activation=a, parameterization="standard", bias=True, residual=True,
            reduction="mean"))(act)
        out[f"mlp_ce_{act}"] = (lambda a: lambda: ls.MLP(
            X, labels(), [5], activation=a, loss="cross_entropy", num_classes=3, bias=True))(act)
    # A scalar output: the passes skip forming the rank-one backpropagated matrices, except
    # above a residual layer.
    out["mlp_scalar_bias"] = lambda: ls.MLP(X, Y[:, :1], [4, 3], activation="tanh", bias=True)
    out["mlp_scalar_res"] = lambda: ls.MLP(X, Y[:, :1], [4, 4], activation="softplus", parameterization="standard",
                                           bias=True, residual=True)
    out["logistic_regression"] = lambda: ls.MLP(X, labels(), [], loss="cross_entropy", reduction="mean")
    out["mlp_ce_mean_res"] = lambda: ls.MLP(X, labels(k=4), [3, 3], activation="gelu", loss="cross_entropy",
                                            reduction="mean", residual=True)
    return out


CASES = cases()


def point(model, seed=3):
    """A generic parameter point (not the init, which may sit on symmetric points)."""
    rng = np.random.default_rng(seed)
    w = model.init(seed=seed) + 0.3 * rng.standard_normal(model.num_params)
    if isinstance(model, ls.ProductToy):
        w = 0.6 + 0.5 * rng.random(model.num_params)
    return w
