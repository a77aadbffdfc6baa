"""adiff fit against independent fits: scikit-learn and SciPy (test extras), and NumPy by hand.

* logistic regression = scikit-learn's unpenalised ``LogisticRegression(C=np.inf)`` to 1e-6
  relative (lbfgs, newton); gd, momentum and adam to the tolerance they were given, made
  precise: |θ − θ*| ≤ 2·‖H⁻¹‖·(the gradient the rule allows), H the Hessian at θ* computed
  here with NumPy;
* least squares = ``LinearRegression``; --l2 = ``Ridge``, and the logistic loss with --l2 =
  ``LogisticRegression(C=1/(2λ))``;
* ``a*exp(-b*x) + c`` = ``scipy.optimize.curve_fit``;
* the fitted loss never exceeds the independent optimum by more than tol·max(1, |L*|), the
  tolerance the output states;
* a plateau (the NOTES' "fit trap") is never called converged.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from .conftest import invoke
from .test_fit import LOGISTIC, logistic_data, write_csv

sklearn = pytest.importorskip("sklearn")
scipy_optimize = pytest.importorskip("scipy.optimize")

ROWS = 400


def fit(*args, code=0):
    r = invoke("fit", *args, "--format", "json")
    assert r.code == code, r
    return r.json()


def rel(a, b) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def params_of(doc):
    return np.array(list(doc["params"].values()))


@pytest.fixture(scope="module")
def logistic(tmp_path_factory):
    from sklearn.linear_model import LogisticRegression

    data = logistic_data(ROWS)
    path = write_csv(tmp_path_factory.mktemp("oracle") / "logistic.csv", data)
    X = np.column_stack([data["x1"], data["x2"]])
    y = data["y"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=np.inf, tol=1e-14, max_iter=100_000).fit(X, y)
    theta = np.r_[model.intercept_, model.coef_[0]]
    A = np.column_stack([np.ones(ROWS), X])

    def loss(t):
        z = A @ t
        return float(np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))

    z = A @ theta
    p = 1 / (1 + np.exp(-z))
    hessian = A.T @ (A * (p * (1 - p))[:, None])
    return {"path": path, "theta": theta, "loss": loss, "hessian": hessian, "A": A, "y": y}


@pytest.mark.parametrize("method", ["lbfgs", "newton"])
def test_logistic_regression_equals_scikit_learn(logistic, method):
    doc = fit(LOGISTIC, "--data", logistic["path"], "--method", method)
    assert doc["converged"] is True and doc["method"] == method
    theta = params_of(doc)
    star = logistic["theta"]
    for got, want in zip(theta, star):
        assert rel(got, want) <= 1e-6, (theta, star)
    assert doc["loss"] - logistic["loss"](star) <= doc["stopping"]["tol"] * max(1, doc["loss"])
    assert rel(doc["loss"], logistic["loss"](star)) <= 1e-12


def _bound(logistic, doc) -> float:
    """How far from θ* the rule lets a fit stop: the rule allows |gᵢ| ≤ tol·max(1,|L|) /
    max(1,|θᵢ|); near θ*, θ − θ* ≈ H⁻¹g, so |θ − θ*|∞ ≤ ‖H⁻¹‖∞·max|gᵢ| (twice, for the
    loss not being exactly quadratic)."""
    tol = doc["stopping"]["tol"]
    theta = params_of(doc)
    g = tol * max(1.0, abs(doc["loss"])) / np.maximum(1.0, np.abs(theta))
    inverse = np.linalg.inv(logistic["hessian"])
    return 2.0 * float(np.max(np.abs(inverse) @ g))


@pytest.mark.parametrize("method, extra", [
    ("gd", ["--lr", "0.01", "--tol", "1e-6", "--steps", "20000"]),
    ("momentum", ["--tol", "1e-6", "--steps", "5000"]),
    ("adam", ["--lr", "0.05", "--tol", "1e-5", "--steps", "20000"]),
])
def test_first_order_methods_reach_the_optimum_to_their_tolerance(logistic, method, extra):
    doc = fit(LOGISTIC, "--data", logistic["path"], "--method", method, *extra)
    assert doc["converged"] is True
    theta, star = params_of(doc), logistic["theta"]
    bound = _bound(logistic, doc)
    assert np.max(np.abs(theta - star)) <= bound, (theta, star, bound)
    assert bound < 1e-2  # the bound says something
    tol = doc["stopping"]["tol"]
    assert doc["loss"] - logistic["loss"](star) <= tol * max(1.0, abs(logistic["loss"](star)))
    # and a tighter --tol gets closer, as the rule promises
    keep = [v for k in range(0, len(extra), 2) if extra[k] not in ("--tol", "--steps")
            for v in extra[k:k + 2]]
    tighter = fit(LOGISTIC, "--data", logistic["path"], "--method", method, *keep,
                  "--tol", str(tol / 100), "--steps", "100000")
    assert np.max(np.abs(params_of(tighter) - star)) <= _bound(logistic, tighter) < bound


def test_minibatch_adam_reaches_the_optimum_to_its_tolerance(logistic):
    doc = fit(LOGISTIC, "--data", logistic["path"], "--method", "adam", "--batch-size", "50",
              "--lr", "0.02", "--tol", "1e-2", "--steps", "20000", "--seed", "3")
    assert doc["converged"] is True
    assert np.max(np.abs(params_of(doc) - logistic["theta"])) <= _bound(logistic, doc)
    star = logistic["loss"](logistic["theta"])
    assert doc["loss"] - star <= 1e-2 * star


def test_least_squares_equals_linear_regression(tmp_path):
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(11)
    x1, x2 = rng.uniform(-3, 3, 300), rng.uniform(0, 10, 300)
    y = 1.5 - 0.75 * x1 + 0.2 * x2 + rng.normal(0, 0.3, 300)
    path = write_csv(tmp_path / "ls.csv", {"x1": x1, "x2": x2, "y": y})
    model = LinearRegression().fit(np.column_stack([x1, x2]), y)
    star = np.r_[model.intercept_, model.coef_]
    for method in ("lbfgs", "newton"):
        doc = fit("(y - (a + b*x1 + c*x2))^2", "--data", path, "--method", method)
        for got, want in zip(params_of(doc), star):
            assert rel(got, want) <= 1e-6, (method, params_of(doc), star)
        residual = y - (star[0] + star[1] * x1 + star[2] * x2)
        optimum = float(np.sum(residual ** 2))
        assert doc["loss"] - optimum <= 1e-7 * optimum
        assert rel(doc["loss"], optimum) <= 1e-10


@pytest.mark.parametrize("reduce, alpha", [("sum", 2.0), ("mean", 2.0 * 300)])
def test_l2_equals_ridge(tmp_path, reduce, alpha):
    """--l2 λ adds λ·Σθ² (every fitted parameter, the intercept too) after the reduction:
    Ridge without its own intercept over [1, x1, x2], alpha = λ (sum) or λ·rows (mean)."""
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(5)
    x1, x2 = rng.normal(0, 1, 300), rng.normal(2, 1, 300)
    y = 0.5 + 1.25 * x1 - 2.0 * x2 + rng.normal(0, 0.5, 300)
    path = write_csv(tmp_path / "ridge.csv", {"x1": x1, "x2": x2, "y": y})
    X = np.column_stack([np.ones(300), x1, x2])
    star = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky").fit(X, y).coef_
    doc = fit("(y - (a + b*x1 + c*x2))^2", "--data", path, "--l2", "2", "--reduce", reduce)
    assert doc["l2"] == 2.0
    for got, want in zip(params_of(doc), star):
        assert rel(got, want) <= 1e-6


def test_logistic_with_l2_equals_scikit_learn_with_c(logistic):
    """scikit-learn minimises ½‖w‖² + C·Σ loss; adiff Σ loss + λ‖w‖²: C = 1/(2λ)."""
    from sklearn.linear_model import LogisticRegression

    A, y = logistic["A"], logistic["y"]
    model = LogisticRegression(C=1 / (2 * 3.0), fit_intercept=False, tol=1e-14,
                               max_iter=100_000).fit(A[:, 1:], y)
    doc = fit("z = t1*x1 + t2*x2; p = sigmoid(z); -(y*log(p) + (1 - y)*log(1 - p))",
              "--data", logistic["path"], "--l2", "3")
    for got, want in zip(params_of(doc), model.coef_[0]):
        assert rel(got, want) <= 1e-6


@pytest.fixture(scope="module")
def decay(tmp_path_factory):
    rng = np.random.default_rng(2)
    x = np.sort(rng.uniform(0, 4, 200))
    y = 2.5 * np.exp(-1.3 * x) + 0.5 + rng.normal(0, 0.05, 200)
    path = write_csv(tmp_path_factory.mktemp("decay") / "decay.csv", {"x": x, "y": y})

    def model(x, a, b, c):
        return a * np.exp(-b * x) + c

    star, _ = scipy_optimize.curve_fit(model, x, y, p0=(1.0, 1.0, 0.0), ftol=1e-15, xtol=1e-15,
                                       gtol=1e-15, maxfev=100_000)
    optimum = float(np.sum((y - model(x, *star)) ** 2))
    return {"path": path, "star": star, "optimum": optimum}


@pytest.mark.parametrize("start", [["--at", "a=1,b=1,c=0"], [], ["--at", "a=5,b=0.1,c=-1"]],
                         ids=["curve_fit's start", "zero", "far"])
def test_exponential_decay_equals_curve_fit(decay, start):
    doc = fit("(y - (a*exp(-b*x) + c))^2", "--data", decay["path"], *start)
    assert doc["converged"] is True
    for got, want in zip(params_of(doc), decay["star"]):
        assert rel(got, want) <= 1e-6, (params_of(doc), decay["star"])
    assert doc["loss"] - decay["optimum"] <= doc["stopping"]["tol"] * max(1, decay["optimum"])


def test_newton_on_the_exponential_decay_never_stops_on_a_plateau(decay):
    """The NOTES' trap: Newton from zero runs off to b → ∞, where the loss is flat in a and b.
    adiff's Newton is damped and the minimum check follows the rule: it reaches curve_fit's
    optimum, or says it did not converge -- never "converged" anywhere else."""
    for start in ([], ["--at", "a=1,b=1,c=0"]):
        r = invoke("fit", "(y - (a*exp(-b*x) + c))^2", "--data", decay["path"], "--method",
                   "newton", *start, "--format", "json")
        doc = r.json()
        if doc["converged"]:
            assert r.code == 0
            for got, want in zip(params_of(doc), decay["star"]):
                assert rel(got, want) <= 1e-6
        else:
            assert r.code == 1 and doc["stopping"]["reason"] != "converged"


def test_a_plateau_is_not_convergence(decay):
    """Start where exp(-b*x) is 0 in every row: the loss is flat along a and b. The gradient
    there is tiny (only c moves the loss), so a gradient test alone would stop at c = mean(y);
    the minimum check finds the loss flat along a and b and says so: exit 1."""
    r = invoke("fit", "(y - (a*exp(-b*(x + 1)) + c))^2", "--data", decay["path"], "--at",
               "a=1,b=800,c=0", "--format", "json")
    doc = r.json()
    assert r.code == 1 and doc["converged"] is False
    assert doc["stopping"]["reason"] == "plateau"
    assert doc["stopping"]["minimum"]["flat"] == ["a", "b"]
    assert doc["stopping"]["gradient_ok"] is True  # what a small gradient alone would accept
    y = np.loadtxt(decay["path"], delimiter=",", skiprows=1)[:, 1]
    assert rel(doc["params"]["c"], float(np.mean(y))) <= 1e-6
    assert r.stderr == ("Warning: not converged: the gradient is small but the loss does not "
                        "change along a, b: a plateau, not a minimum, or a flat valley of minima "
                        "(no unique minimum)\n")
    assert doc["loss"] > 10 * decay["optimum"]


def test_separable_classes_have_no_minimum(tmp_path):
    """samples/logistic.csv is separable: the loss falls towards 0 as the parameters grow.
    With a loss that stays finite there, the fit says there is no minimum; --l2 gives one."""
    stable = "z = t0 + t1*x1 + t2*x2; y*softplus(-z) + (1 - y)*softplus(z)"
    r = invoke("fit", stable, "--data", "samples/logistic.csv", "--format", "json")
    doc = r.json()
    assert r.code == 1 and doc["stopping"]["reason"] == "no minimum"
    falls = doc["stopping"]["minimum"]["falls"]
    assert falls["far"] < falls["near"] < doc["loss"]
    assert r.stderr.startswith("Warning: not converged: the loss keeps falling as the "
                               "parameters grow (L(2θ) = ")
    assert invoke("fit", stable, "--data", "samples/logistic.csv", "--l2", "0.1").code == 0


def test_every_method_reports_a_loss_no_worse_than_the_optimum_plus_its_tolerance(logistic):
    optimum = logistic["loss"](logistic["theta"])
    for method, extra in (("lbfgs", []), ("newton", []), ("gd", ["--lr", "0.01"]),
                          ("momentum", []), ("adam", ["--lr", "0.05"])):
        for tol in ("1e-4", "1e-7"):
            doc = fit(LOGISTIC, "--data", logistic["path"], "--method", method, "--tol", tol,
                      "--steps", "50000", *extra)
            assert doc["converged"], (method, tol)
            assert doc["loss"] >= optimum * (1 - 1e-14)  # nothing beats the optimum
            assert doc["loss"] - optimum <= float(tol) * max(1.0, optimum), (method, tol)


def test_the_stated_rule_holds_at_the_fit(logistic):
    doc = fit(LOGISTIC, "--data", logistic["path"])
    tol, loss = doc["stopping"]["tol"], doc["loss"]
    history = [h["loss"] for h in doc["history"]]
    assert abs(history[-2] - history[-1]) <= tol * max(1, abs(loss))
    for name, g in doc["gradient"].items():
        assert abs(g) * max(1, abs(doc["params"][name])) <= tol * max(1, abs(loss))
    assert math.isclose(doc["stopping"]["limit"], tol * max(1, abs(loss)), rel_tol=1e-15)
