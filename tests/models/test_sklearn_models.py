"""scikit-learn, LightGBM and XGBoost models converted INSIDE the test with skl2onnx / onnxmltools at their
default options (classifiers end in ai.onnx.ml ZipMap: probabilities as a list of {class: probability} dicts),
run with tessera's Python API and compared with the framework's own predict / predict_proba and, as a second
oracle, with onnxruntime's outputs for the same model and inputs.

Small datasets and few trees keep this under a few seconds. Each case records its largest error; run with
`-s` to see the table."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is installed by scripts/install-deps.sh")
skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is installed by scripts/install-deps.sh")

import tessera  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,  # noqa: E402
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.feature_extraction import DictVectorizer  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn.svm import SVC, SVR  # noqa: E402
from skl2onnx.common.data_types import DictionaryType, FloatTensorType, StringTensorType  # noqa: E402

try:
    import onnxruntime
except ImportError:  # the second oracle is optional
    onnxruntime = None

PROBABILITY_ATOL = 1e-4  # float32 ONNX kernels against scikit-learn's float64
REGRESSION_RTOL = 1e-4
ORT_ATOL = 1e-5  # tessera against onnxruntime: both float32

MAX_ERRORS = {}


def iris():
    x, y = load_iris(return_X_y=True)
    # Rows interleaved so a small slice holds every class; float32 is what the ONNX model receives.
    order = np.argsort(np.arange(len(y)) % 10, kind="stable")
    return x[order].astype(np.float32), y[order]


def regression():
    x, y = make_regression(n_samples=80, n_features=4, noise=0.5, random_state=0)
    return x.astype(np.float32), y


def sessions(onx):
    data = onx.SerializeToString()
    ours = tessera.InferenceSession(data, providers=["CPUExecutionProvider"])
    theirs = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"]) if onnxruntime else None
    return ours, theirs


def probabilities_matrix(dicts, classes):
    """A ZipMap output (list of {class: probability}) as rows in `classes` order; the keys must be exactly the
    classes. A converter that leaves ZipMap out gives the [N, classes] tensor itself."""
    if isinstance(dicts, np.ndarray):
        return dicts.astype(np.float64)
    assert isinstance(dicts, list) and all(isinstance(d, dict) for d in dicts)
    for d in dicts:
        assert sorted(d.keys()) == sorted(classes.tolist())
    return np.array([[d[c] for c in classes.tolist()] for d in dicts], dtype=np.float64)


def run_both(onx, feeds):
    ours, theirs = sessions(onx)
    got = ours.run(None, feeds)
    expected = theirs.run(None, feeds) if theirs else None
    return ours, got, expected


def check_classifier(name, model, onx, x):
    ours, got, expected = run_both(onx, {ours_input(onx): x})
    zipmap = "ZipMap" in [n.op_type for n in onx.graph.node]
    assert ours.get_outputs()[1].type.startswith("seq(map(") == zipmap
    labels, probabilities = got
    np.testing.assert_array_equal(labels, model.predict(x.astype(np.float64)))
    ours_p = probabilities_matrix(probabilities, model.classes_)
    error = float(np.max(np.abs(ours_p - model.predict_proba(x.astype(np.float64)))))
    assert error <= PROBABILITY_ATOL, f"{name}: probabilities differ from predict_proba by {error}"
    ort_error = None
    if expected is not None:
        np.testing.assert_array_equal(labels, expected[0])
        if zipmap:
            assert [list(d.keys()) for d in probabilities] == [list(d.keys()) for d in expected[1]]
        ort_error = float(np.max(np.abs(ours_p - probabilities_matrix(expected[1], model.classes_))))
        assert ort_error <= ORT_ATOL, f"{name}: probabilities differ from onnxruntime's by {ort_error}"
    MAX_ERRORS[name] = (error, ort_error)


def check_regressor(name, model, onx, x):
    _, got, expected = run_both(onx, {ours_input(onx): x})
    want = model.predict(x.astype(np.float64)).reshape(-1)
    ours_y = got[0].reshape(-1).astype(np.float64)
    error = float(np.max(np.abs(ours_y - want) / np.maximum(np.abs(want), 1.0)))
    assert error <= REGRESSION_RTOL, f"{name}: predictions differ from predict by {error} (relative)"
    ort_error = None
    if expected is not None:
        ort_error = float(np.max(np.abs(ours_y - expected[0].reshape(-1)) / np.maximum(np.abs(want), 1.0)))
        assert ort_error <= ORT_ATOL, f"{name}: predictions differ from onnxruntime's by {ort_error}"
    MAX_ERRORS[name] = (error, ort_error)


def ours_input(onx):
    return onx.graph.input[0].name


def convert(model, x):
    """skl2onnx at its default options (zipmap on for classifiers)."""
    return skl2onnx.to_onnx(model, x[:1])


CLASSIFIERS = {
    "LogisticRegression": lambda: LogisticRegression(max_iter=500),
    "SVC(probability=True)": lambda: SVC(probability=True, random_state=0),
    "RandomForestClassifier": lambda: RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0),
    "GradientBoostingClassifier": lambda: GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0),
    "KNeighborsClassifier": lambda: KNeighborsClassifier(n_neighbors=5),
}

REGRESSORS = {
    "LinearRegression": LinearRegression,
    "SVR": lambda: SVR(C=10.0),
    "RandomForestRegressor": lambda: RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0),
    "GradientBoostingRegressor": lambda: GradientBoostingRegressor(n_estimators=10, max_depth=2, random_state=0),
}


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier(name):
    x, y = iris()
    model = CLASSIFIERS[name]().fit(x, y)
    onx = convert(model, x)
    assert "ZipMap" in [n.op_type for n in onx.graph.node]
    check_classifier(name, model, onx, x)


def test_classifier_with_string_labels():
    """Class names as labels: ZipMap's classlabels_strings, dicts keyed by str, a string label tensor."""
    x, y = iris()
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(x, names)
    onx = convert(model, x)
    check_classifier("RandomForestClassifier (string labels)", model, onx, x)


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor(name):
    x, y = regression()
    model = REGRESSORS[name]().fit(x, y)
    check_regressor(name, model, convert(model, x), x)


def test_column_transformer_pipeline():
    x, y = iris()
    # Column 3 (petal width, binned) is a category: one-hot encoded beside the scaled numeric columns.
    x = x.copy()
    x[:, 3] = np.digitize(x[:, 3], [0.8, 1.7]).astype(np.float32)
    pipe = Pipeline([
        ("features", ColumnTransformer([("scale", StandardScaler(), [0, 1, 2]),
                                        ("onehot", OneHotEncoder(handle_unknown="ignore"), [3])])),
        ("classify", LogisticRegression(max_iter=500)),
    ]).fit(x, y)
    onx = skl2onnx.convert_sklearn(pipe, initial_types=[("input", FloatTensorType([None, 4]))])
    check_classifier("Pipeline(ColumnTransformer(StandardScaler+OneHotEncoder)+LogisticRegression)", pipe, onx, x)


TEXT_CORPUS = np.array([
    "The quick brown fox jumps over the lazy dog", "A lazy afternoon with the dog", "Hello world, hello ONNX!",
    "the fox and the dog are friends", "ONNX models run anywhere", "quick thinking wins the day",
    "Brown bread and butter", "hello again, quick fox", "Models, runtimes and benchmarks", "the end of the day",
])
TEXT_LABELS = np.array([0, 0, 1, 0, 1, 0, 1, 1, 1, 0])

TEXT_PIPELINES = {
    "TfidfVectorizer+LogisticRegression": lambda: TfidfVectorizer(),
    "TfidfVectorizer(ngram_range=(1, 2))+LogisticRegression": lambda: TfidfVectorizer(ngram_range=(1, 2)),
    "CountVectorizer+LogisticRegression": lambda: CountVectorizer(),
}


@pytest.mark.parametrize("name", sorted(TEXT_PIPELINES))
def test_text_pipeline(name):
    """A text classifier converted at skl2onnx's defaults: StringNormalizer, com.microsoft Tokenizer,
    TfIdfVectorizer, then the classifier and ZipMap; compared with scikit-learn only (onnxruntime 1.31's
    StringNormalizer refuses to load where the en_US.UTF-8 locale is not installed, as on the Debian 12 images
    used here)."""
    pipe = Pipeline([("vectorize", TEXT_PIPELINES[name]()),
                     ("classify", LogisticRegression(max_iter=500))]).fit(TEXT_CORPUS, TEXT_LABELS)
    onx = skl2onnx.convert_sklearn(pipe, initial_types=[("text", StringTensorType([None, 1]))])
    assert "Tokenizer" in [n.op_type for n in onx.graph.node]
    ours = tessera.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, probabilities = ours.run(None, {"text": TEXT_CORPUS.reshape(-1, 1)})
    np.testing.assert_array_equal(labels, pipe.predict(TEXT_CORPUS))
    error = float(np.max(np.abs(probabilities_matrix(probabilities, pipe.classes_) - pipe.predict_proba(TEXT_CORPUS))))
    assert error <= PROBABILITY_ATOL, f"{name}: probabilities differ from predict_proba by {error}"
    MAX_ERRORS[f"Pipeline({name})"] = (error, None)


def test_dict_vectorizer_pipeline():
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    samples = []
    for _ in range(40):
        picked = rng.choice(words, size=3, replace=False)
        samples.append({str(w): float(rng.integers(1, 5)) for w in picked})
    labels = np.array([int(s.get("alpha", 0) + s.get("beta", 0) > s.get("gamma", 0) + 1) for s in samples])
    pipe = Pipeline([("vectorize", DictVectorizer(sparse=False)),
                     ("classify", LogisticRegression(max_iter=500))]).fit(samples, labels)
    onx = skl2onnx.convert_sklearn(
        pipe, initial_types=[("input", DictionaryType(StringTensorType([1]), FloatTensorType([1])))])
    assert "DictVectorizer" in [n.op_type for n in onx.graph.node]
    ours, theirs = sessions(onx)
    assert ours.get_inputs()[0].type == "map(string,tensor(float))"
    worst, ort_worst = 0.0, None
    for sample, want_label, want_p in zip(samples, pipe.predict(samples), pipe.predict_proba(samples)):
        label, probabilities = ours.run(None, {"input": sample})
        assert label.tolist() == [want_label]
        got_p = probabilities_matrix(probabilities, pipe.classes_)[0]
        worst = max(worst, float(np.max(np.abs(got_p - want_p))))
        if theirs is not None:
            their_label, their_p = theirs.run(None, {"input": sample})
            assert label.tolist() == their_label.tolist()
            their_error = float(np.max(np.abs(got_p - probabilities_matrix(their_p, pipe.classes_)[0])))
            ort_worst = max(ort_worst or 0.0, their_error)
    assert worst <= PROBABILITY_ATOL
    assert ort_worst is None or ort_worst <= ORT_ATOL
    MAX_ERRORS["Pipeline(DictVectorizer+LogisticRegression)"] = (worst, ort_worst)


def test_lightgbm_classifier():
    lightgbm = pytest.importorskip("lightgbm", reason="lightgbm is installed by scripts/install-deps.sh")
    onnxmltools = pytest.importorskip("onnxmltools", reason="onnxmltools is installed by scripts/install-deps.sh")
    from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat
    x, y = iris()
    model = lightgbm.LGBMClassifier(n_estimators=10, num_leaves=7, min_child_samples=5, verbose=-1).fit(x, y)
    onx = onnxmltools.convert_lightgbm(model, initial_types=[("input", MlFloat([None, 4]))])
    assert "ZipMap" in [n.op_type for n in onx.graph.node]
    check_classifier("LightGBM LGBMClassifier", model, onx, x)


def xgboost_classifier():
    xgboost = pytest.importorskip("xgboost", reason="xgboost is installed by scripts/install-deps.sh")
    x, y = iris()
    return xgboost.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(x, y), x


def test_xgboost_classifier():
    """onnxmltools.convert_xgboost at its defaults: probabilities as a tensor (its converter adds no ZipMap)."""
    onnxmltools = pytest.importorskip("onnxmltools", reason="onnxmltools is installed by scripts/install-deps.sh")
    from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat
    model, x = xgboost_classifier()
    onx = onnxmltools.convert_xgboost(model, initial_types=[("input", MlFloat([None, 4]))])
    check_classifier("XGBoost XGBClassifier (onnxmltools.convert_xgboost)", model, onx, x)


def test_xgboost_classifier_in_skl2onnx_pipeline():
    """XGBClassifier in a scikit-learn Pipeline, converted by skl2onnx with onnxmltools' XGBoost converter
    registered (skl2onnx's documented way): zipmap at its default, on."""
    pytest.importorskip("onnxmltools", reason="onnxmltools is installed by scripts/install-deps.sh")
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
    model, x = xgboost_classifier()
    skl2onnx.update_registered_converter(type(model), "XGBoostXGBClassifier", calculate_linear_classifier_output_shapes,
                                         convert_xgboost, options={"nocl": [True, False], "zipmap": [True, False]})
    # No scaler in front: scaled in float32 a sample can cross a tree threshold that float64 scaling does not.
    pipe = Pipeline([("classify", model)]).fit(x, iris()[1])
    # onnxmltools' converter writes ai.onnx.ml opset 3 nodes, newer than skl2onnx's default for that domain.
    onx = skl2onnx.convert_sklearn(pipe, initial_types=[("input", FloatTensorType([None, 4]))],
                                   target_opset={"": 18, "ai.onnx.ml": 3})
    assert "ZipMap" in [n.op_type for n in onx.graph.node]
    check_classifier("Pipeline(XGBoost XGBClassifier) via skl2onnx", pipe, onx, x)


def teardown_module(module):
    print("\nmodel: max abs error vs framework (relative for regressors), vs onnxruntime")
    for name, (error, ort_error) in sorted(MAX_ERRORS.items()):
        print(f"  {name}: {error:.3g}, {'n/a' if ort_error is None else f'{ort_error:.3g}'}")
