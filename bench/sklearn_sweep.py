"""Converts ~50 scikit-learn estimators with skl2onnx (seeded synthetic data: 600 rows, 10 features), runs each in
ONNX Runtime and in Tessera's Python module (build/python) in one process, and prints per estimator whether the
outputs agree (labels equal, floats within 1e-4 relative) and the one-thread medians at 1 and 1000 rows, the runs
of the two runtimes alternating. A quick check of the converters' graphs, not a benchmark of record: the 1000-row
inputs repeat the first 50 rows, which favours branchy tree walks (bench/export_tree_models.py writes distinct
rows), and both runtimes share one process.

    cmake --build build                      # Tessera's Python module
    .venv/bin/python bench/sklearn_sweep.py [--only NAME,NAME]

Exits non-zero when an output differs or Tessera fails on a model ONNX Runtime runs. Estimators that skl2onnx
cannot convert are listed as skipped.
"""
import argparse
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "build", "python"))


def estimators():
    import numpy as np
    from sklearn import (cluster, cross_decomposition, decomposition, discriminant_analysis, ensemble,
                         feature_selection, gaussian_process, linear_model, mixture, naive_bayes, neighbors,
                         preprocessing, random_projection, svm, tree)
    from sklearn.datasets import make_classification, make_regression

    xc, yc = make_classification(600, 10, n_informative=6, n_classes=3, random_state=0)
    xr, yr = make_regression(600, 10, random_state=0)
    xb, yb = make_classification(600, 10, n_informative=6, n_classes=2, random_state=0)
    xc, xr, xb = xc.astype(np.float32), xr.astype(np.float32), xb.astype(np.float32)
    lr = linear_model.LogisticRegression
    return {
        "GaussianNB": (naive_bayes.GaussianNB(), xc, yc),
        "BernoulliNB": (naive_bayes.BernoulliNB(), xc, yc),
        "MultinomialNB": (naive_bayes.MultinomialNB(), np.abs(xc), yc),
        "KMeans": (cluster.KMeans(4, n_init=2, random_state=0), xc, None),
        "PCA": (decomposition.PCA(4), xc, None),
        "TruncatedSVD": (decomposition.TruncatedSVD(4), xc, None),
        "KernelPCA": (decomposition.KernelPCA(4, kernel="rbf"), xc[:200], None),
        "GaussianProcessRegressor": (gaussian_process.GaussianProcessRegressor(), xr[:200], yr[:200]),
        "IsolationForest": (ensemble.IsolationForest(n_estimators=20, random_state=0), xc, None),
        "ExtraTreesClassifier": (ensemble.ExtraTreesClassifier(20, random_state=0), xc, yc),
        "AdaBoostClassifier": (ensemble.AdaBoostClassifier(n_estimators=20, random_state=0), xc, yc),
        "HistGradientBoostingClassifier": (ensemble.HistGradientBoostingClassifier(max_iter=20), xc, yc),
        "HistGradientBoostingRegressor": (ensemble.HistGradientBoostingRegressor(max_iter=20), xr, yr),
        "BaggingClassifier": (ensemble.BaggingClassifier(n_estimators=5, random_state=0), xc, yc),
        "StackingClassifier": (ensemble.StackingClassifier([("a", lr()), ("b", tree.DecisionTreeClassifier())]),
                               xc, yc),
        "SGDClassifier": (linear_model.SGDClassifier(loss="log_loss", random_state=0), xc, yc),
        "RidgeClassifier": (linear_model.RidgeClassifier(), xc, yc),
        "LogisticRegressionBinary": (lr(), xb, yb),
        "LinearSVC": (svm.LinearSVC(), xc, yc),
        "OneClassSVM": (svm.OneClassSVM(), xc, None),
        "NuSVR": (svm.NuSVR(), xr, yr),
        "SVCWithProbabilities": (svm.SVC(probability=True, random_state=0), xc, yc),
        "KNeighborsRegressor": (neighbors.KNeighborsRegressor(), xr, yr),
        "KNeighborsClassifierByDistance": (neighbors.KNeighborsClassifier(weights="distance"), xc, yc),
        "RadiusNeighborsClassifier": (neighbors.RadiusNeighborsClassifier(radius=100.0), xc, yc),
        "LocalOutlierFactor": (neighbors.LocalOutlierFactor(novelty=True), xc, None),
        "PLSRegression": (cross_decomposition.PLSRegression(2), xr, yr),
        "LinearDiscriminantAnalysis": (discriminant_analysis.LinearDiscriminantAnalysis(), xc, yc),
        "PolynomialFeatures": (preprocessing.PolynomialFeatures(2), xc, None),
        "KBinsDiscretizer": (preprocessing.KBinsDiscretizer(4, encode="ordinal"), xc, None),
        "QuantileTransformer": (preprocessing.QuantileTransformer(n_quantiles=50), xc, None),
        "PowerTransformer": (preprocessing.PowerTransformer(), xc, None),
        "RobustScaler": (preprocessing.RobustScaler(), xc, None),
        "SelectKBest": (feature_selection.SelectKBest(k=4), xc, yc),
        "GaussianRandomProjection": (random_projection.GaussianRandomProjection(4, random_state=0), xc, None),
        "BayesianGaussianMixture": (mixture.BayesianGaussianMixture(n_components=3, random_state=0), xc, None),
        "DecisionTreeRegressor": (tree.DecisionTreeRegressor(random_state=0), xr, yr),
    }


def convert(estimator, sample):
    from skl2onnx import to_onnx

    opsets = {"": 17, "ai.onnx.ml": 3}
    try:
        return to_onnx(estimator, sample, options={id(estimator): {"zipmap": False}}, target_opset=opsets)
    except Exception:  # estimators without a zipmap option
        return to_onnx(estimator, sample, target_opset=opsets)


def compare(expected, got):
    import numpy as np

    problems = []
    for a, b in zip(expected, got):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            problems.append(f"shape {a.shape} vs {b.shape}")
        elif a.dtype.kind in "iub" and (a != b).any():
            problems.append(f"labels differ in {(a != b).mean():.3f}")
        elif a.dtype.kind == "f" and np.abs(a - b).max() / (1 + np.abs(a).max()) > 1e-4:
            problems.append(f"relative difference {np.abs(a - b).max() / (1 + np.abs(a).max()):.2e}")
    return problems


def medians(ort_session, tessera_session, name, x):
    import numpy as np

    ort_times, tessera_times = [], []
    for _ in range(30 if len(x) > 1 else 300):
        start = time.perf_counter()
        ort_session.run(None, {name: x})
        middle = time.perf_counter()
        tessera_session.run(None, {name: x})
        tessera_times.append(time.perf_counter() - middle)
        ort_times.append(middle - start)
    return np.median(tessera_times) * 1e3, np.median(ort_times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated estimator names")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import numpy as np
    import onnxruntime as ort
    import tessera

    bad = 0
    for name, (estimator, x, y) in estimators().items():
        if args.only and name not in args.only.split(","):
            continue
        try:
            estimator.fit(x, y) if y is not None else estimator.fit(x)
            model = convert(estimator, x[:1]).SerializeToString()
        except Exception as e:  # noqa: BLE001 - a converter's limitation, reported and skipped
            print(f"{name}: skipped (conversion: {str(e)[:80]})")
            continue
        ort_options = ort.SessionOptions()
        ort_options.intra_op_num_threads = 1
        ort_session = ort.InferenceSession(model, ort_options, providers=["CPUExecutionProvider"])
        input_name = ort_session.get_inputs()[0].name
        feed = x[:50]
        try:
            tessera_options = tessera.SessionOptions()
            tessera_options.intra_op_num_threads = 1
            tessera_session = tessera.InferenceSession(model, tessera_options)
            problems = compare(ort_session.run(None, {input_name: feed}), tessera_session.run(None, {input_name: feed}))
        except Exception as e:  # noqa: BLE001 - reported as a failure
            print(f"{name}: TESSERA FAILS: {str(e)[:300]}")
            bad += 1
            continue
        timing = []
        for rows in (1, 1000):
            t, o = medians(ort_session, tessera_session, input_name, np.resize(feed, (rows, feed.shape[1])))
            timing.append(f"{rows} rows: Tessera {t:.3f} ms, ONNX Runtime {o:.3f} ms ({t / o:.2f})")
        print(f"{name}: {'outputs agree' if not problems else 'MISMATCH ' + '; '.join(problems)}; " + "; ".join(timing),
              flush=True)
        bad += bool(problems)
    print(f"{bad} estimators differ or fail")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
