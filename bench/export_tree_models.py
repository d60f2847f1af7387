"""Exports the tree-ensemble benchmark models: scikit-learn, LightGBM and XGBoost ensembles of the sizes users
deploy, trained on a seeded synthetic data set, converted with skl2onnx / onnxmltools, with a manifest that
bench/side_by_side.py reads (--manifest).

    .venv/bin/python bench/export_tree_models.py            # the project's venv (scripts/install-deps.sh)
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


def sklearn_model(estimator, classes):
    from skl2onnx import to_onnx

    x, y = data(classes)
    estimator.fit(x, y)
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


def models():
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "models", "trees"))
    parser.add_argument("--batches", default="1,1000", help="batch sizes whose inputs are written")
    parser.add_argument("--force", action="store_true", help="export again even when a model exists")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import numpy as np

    manifest = {"models": {}, "seed": SEED, "batch_axis": 0}
    for name, (description, build) in models().items():
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
