/// The three head kinds of CoDE and where the released model keeps each one.
public enum HeadKind: String, Sendable, CaseIterable {
    case linear, knn, svm

    /// The file name in the `aimagelab/CoDE` repository (docs/upstream.md, Released files).
    public var releasedFile: String {
        switch self {
        case .linear: return "sklearn/linear_tot_classifier_epoch-32.sav"
        case .knn: return "sklearn/knn_tot_classifier_epoch-32.sav"
        case .svm: return "sklearn/ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib"
        }
    }

    /// The file name of a head in this project's own format inside a model folder.
    public var nativeFile: String { "heads/\(rawValue).safetensors" }
}
