/// The allow-list: every (module, name) a pickle may refer to, and what the reader does with it. A name
/// outside this table is refused (`PickleError.forbiddenGlobal`) the moment GLOBAL, STACK_GLOBAL or INST
/// reads it. No entry runs code: each one only shapes data.
enum PickleGlobalRole: Sendable, Equatable {
    /// A class whose instances become `PickleObject` records (estimators, tree indexes, distance metrics).
    case record
    /// joblib's `NumpyArrayWrapper`: a record followed in the file by the array bytes.
    case joblibArrayWrapper
    /// joblib < 0.10 wrappers whose arrays live in other files: refused with an explanation.
    case legacyJoblibWrapper
    /// `numpy.ndarray` (and `numpy.memmap`): only usable as an argument.
    case ndarrayClass
    /// `numpy.core.multiarray._reconstruct(ndarray, shape, b'b')`, completed by BUILD.
    case reconstruct
    /// `numpy.core.numeric._frombuffer(buffer, dtype, shape, order)` (protocol 5 arrays).
    case frombuffer
    /// `numpy.dtype(typestring, align, copy)`, completed by BUILD.
    case dtype
    /// `numpy.core.multiarray.scalar(dtype, bytes)`: a 0-d array.
    case scalar
    /// `copyreg._reconstructor(cls, object, None)`: a bare instance of an allowed record class.
    case copyregReconstructor
    /// `builtins.object`: only usable as `_reconstructor`'s base.
    case builtinObject
    /// `_codecs.encode(str, 'latin1')`: how protocols 0–2 write `bytes` under Python 3.
    case codecsEncode
    case set, frozenset, bytearray
    case orderedDict
    /// scikit-learn's `newObj(cls)` (= `cls.__new__(cls)`) used by tree indexes and distance metrics.
    case newObj
}

enum PickleGlobals {
    static func role(module: String, name: String) -> PickleGlobalRole? {
        table[module]?[name]
    }

    private static let estimators: [String: [String: PickleGlobalRole]] = [
        "sklearn.linear_model._logistic": ["LogisticRegression": .record],
        "sklearn.linear_model.logistic": ["LogisticRegression": .record],  // scikit-learn < 0.22
        "sklearn.neighbors._classification": ["KNeighborsClassifier": .record],
        "sklearn.neighbors.classification": ["KNeighborsClassifier": .record],
        "sklearn.svm._classes": ["OneClassSVM": .record],
        "sklearn.svm.classes": ["OneClassSVM": .record],
        // A KNeighborsClassifier fitted with algorithm kd_tree/ball_tree carries its tree index.
        "sklearn.neighbors._kd_tree": ["KDTree": .record, "KDTree64": .record, "KDTree32": .record, "newObj": .newObj],
        "sklearn.neighbors._ball_tree": ["BallTree": .record, "BallTree64": .record, "BallTree32": .record, "newObj": .newObj],
    ]

    private static let distanceMetricNames: [String] = {
        let bases = ["Euclidean", "SEuclidean", "Manhattan", "Chebyshev", "Minkowski", "WMinkowski", "Mahalanobis",
                     "Hamming", "Canberra", "BrayCurtis", "Jaccard", "Matching", "Dice", "Kulsinski",
                     "RogersTanimoto", "RussellRao", "SokalMichener", "SokalSneath", "Haversine"]
        return bases.flatMap { ["\($0)Distance", "\($0)Distance64", "\($0)Distance32"] }
            + ["DistanceMetric", "DistanceMetric64", "DistanceMetric32"]
    }()

    private static let table: [String: [String: PickleGlobalRole]] = {
        var t = estimators
        var metrics: [String: PickleGlobalRole] = ["newObj": .newObj]
        for n in distanceMetricNames { metrics[n] = .record }
        t["sklearn.metrics._dist_metrics"] = metrics
        t["sklearn.neighbors._dist_metrics"] = metrics  // scikit-learn < 1.0

        for m in ["numpy.core.multiarray", "numpy._core.multiarray"] {
            t[m] = ["_reconstruct": .reconstruct, "scalar": .scalar, "ndarray": .ndarrayClass, "dtype": .dtype]
        }
        t["numpy"] = ["ndarray": .ndarrayClass, "memmap": .ndarrayClass, "dtype": .dtype]
        for m in ["numpy.core.numeric", "numpy._core.numeric"] { t[m] = ["_frombuffer": .frombuffer] }
        for m in ["numpy.core.memmap", "numpy._core.memmap"] { t[m] = ["memmap": .ndarrayClass] }

        for m in ["joblib.numpy_pickle", "sklearn.externals.joblib.numpy_pickle"] {
            t[m] = ["NumpyArrayWrapper": .joblibArrayWrapper, "NDArrayWrapper": .legacyJoblibWrapper,
                    "ZNDArrayWrapper": .legacyJoblibWrapper]
        }
        for m in ["joblib.numpy_pickle_compat", "sklearn.externals.joblib.numpy_pickle_compat"] {
            t[m] = ["NDArrayWrapper": .legacyJoblibWrapper, "ZNDArrayWrapper": .legacyJoblibWrapper]
        }

        for m in ["builtins", "__builtin__"] {
            t[m] = ["set": .set, "frozenset": .frozenset, "bytearray": .bytearray, "object": .builtinObject]
        }
        for m in ["copyreg", "copy_reg"] { t[m] = ["_reconstructor": .copyregReconstructor] }
        t["_codecs"] = ["encode": .codecsEncode]
        t["collections"] = ["OrderedDict": .orderedDict]
        return t
    }()
}
