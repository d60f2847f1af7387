"""Exports the classic machine-learning benchmark models: scikit-learn, LightGBM and XGBoost tree ensembles of the
sizes users deploy (--group trees, the default) or scikit-learn's other families (--group classic: logistic
regression, a scaler + PCA + logistic regression pipeline, an RBF SVC, an MLP, k-nearest neighbours), trained on a
seeded synthetic data set, converted with skl2onnx / onnxmltools, with a manifest that bench/side_by_side.py reads
(--manifest) in bench/models/GROUP/.

    .venv/bin/python bench/export_tree_models.py [--group classic]   # the project's venv (scripts/install-deps.sh)
    /usr/bin/python3 bench/side_by_side.py --manifest bench/models/trees/manifest.json \\
        --runtimes tessera,onnxruntime --batch 1,1000 --threads 1,2

OpenVINO has no ai.onnx.ml operators, hence --runtimes. Inputs: bench_inputs.make_input's standard normal features,
the scale the models were trained on. Models already present are kept unless --force.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_inputs import input_file_name, make_input  # noqa: E402

FEATURES = 40
SEED = 0


def data(classes):
    from sklearn.datasets import make_classification, make_regression

    if classes == 0:
        x, y = make_regression(n_samples=5000, n_features=FEATURES, n_informative=20, random_state=SEED)
    else:
        x, y = make_classification(n_samples=5000, n_features=FEATURES, n_informative=20, n_classes=classes,
                                   random_state=SEED)
    return x.astype("float32"), y


def sklearn_model(estimator, classes, rows=None):
    from skl2onnx import to_onnx

    x, y = data(classes)
    estimator.fit(x[:rows], y[:rows])
    options = {id(estimator): {"zipmap": False}} if classes else None
    return to_onnx(estimator, x[:1], options=options, target_opset={"": 17, "ai.onnx.ml": 3})


def lightgbm_model():
    import lightgbm
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    x, y = data(3)
    model = lightgbm.LGBMClassifier(n_estimators=300, num_leaves=63, random_state=SEED, verbose=-1).fit(x, y)
    return convert_lightgbm(model, initial_types=[("input", FloatTensorType([None, FEATURES]))], zipmap=False,
                            target_opset=15)


def xgboost_model():
    import xgboost
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    x, y = data(3)
    model = xgboost.XGBClassifier(n_estimators=300, max_depth=6, random_state=SEED, n_jobs=1).fit(x, y)
    return convert_xgboost(model, initial_types=[("input", FloatTensorType([None, FEATURES]))], target_opset=15)


def tree_models():
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

    return {
        "random_forest": ("scikit-learn RandomForestClassifier: 200 trees of depth <= 12, 3 classes",
                          lambda: sklearn_model(RandomForestClassifier(n_estimators=200, max_depth=12,
                                                                       random_state=SEED), 3)),
        "gradient_boosting": ("scikit-learn GradientBoostingRegressor: 300 trees of depth 5",
                              lambda: sklearn_model(GradientBoostingRegressor(n_estimators=300, max_depth=5,
                                                                              random_state=SEED), 0)),
        "lightgbm": ("LightGBM LGBMClassifier: 300 rounds x 3 classes, 63 leaves", lightgbm_model),
        "xgboost": ("XGBoost XGBClassifier: 300 rounds x 3 classes, depth 6", xgboost_model),
    }


def classic_models():
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return {
        "logistic_regression": ("scikit-learn LogisticRegression, 3 classes",
                                lambda: sklearn_model(LogisticRegression(max_iter=500), 3)),
        "scaler_pca_logreg": ("scikit-learn pipeline: StandardScaler, PCA(20), LogisticRegression, 3 classes",
                              lambda: sklearn_model(make_pipeline(StandardScaler(), PCA(20, random_state=SEED),
                                                                  LogisticRegression(max_iter=500)), 3)),
        "svc_rbf": ("scikit-learn SVC (RBF kernel, probability outputs off), 3 classes",
                    lambda: sklearn_model(SVC(random_state=SEED), 3)),
        "mlp": ("scikit-learn MLPClassifier: hidden layers 256, 128, 3 classes",
                lambda: sklearn_model(MLPClassifier((256, 128), max_iter=50, random_state=SEED), 3)),
        "knn": ("scikit-learn KNeighborsClassifier: 5 neighbours of 3000 training rows, 3 classes",
                lambda: sklearn_model(KNeighborsClassifier(5), 3, rows=3000)),
    }


GROUPS = {"trees": tree_models, "classic": classic_models}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", choices=sorted(GROUPS), default="trees",
                        help="trees: the ensembles; classic: linear, SVM, MLP, k-NN and a pipeline")
    parser.add_argument("--out", help="default: bench/models/GROUP")
    parser.add_argument("--batches", default="1,1000", help="batch sizes whose inputs are written")
    parser.add_argument("--force", action="store_true", help="export again even when a model exists")
    args = parser.parse_args()
    args.out = args.out or os.path.join(HERE, "models", args.group)
    os.makedirs(args.out, exist_ok=True)
    import numpy as np

    manifest = {"models": {}, "seed": SEED, "batch_axis": 0}
    for name, (description, build) in GROUPS[args.group]().items():
        path = os.path.join(args.out, f"{name}.onnx")
        if args.force or not os.path.exists(path):
            print(f"exporting {name}: {description}", flush=True)
            with open(path, "wb") as f:
                f.write(build().SerializeToString())
        spec = {"name": "input", "dtype": "float32", "shape": ["batch", FEATURES]}
        import onnx

        graph = onnx.load(path).graph
        spec["name"] = graph.input[0].name
        files = {}
        for batch in (int(b) for b in args.batches.split(",")):
            file_name = f"{name}_{input_file_name(spec['name'], batch)}"
            np.save(os.path.join(args.out, file_name), make_input(spec, batch))
            files[str(batch)] = {spec["name"]: file_name}
        manifest["models"][name] = {"description": description, "model": f"{name}.onnx", "inputs": [spec],
                                    "outputs": [o.name for o in graph.output], "files": files}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"wrote {os.path.join(args.out, 'manifest.json')}")


if __name__ == "__main__":
    main()
