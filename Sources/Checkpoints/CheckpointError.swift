/// Why a weights file, a config or an array file could not be read or written.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, mapped, written or renamed.
    case io(path: String, reason: String)
    /// The file is not in the expected format (header, JSON, offsets).
    case malformed(path: String, reason: String)
    /// A tensor is stored in a dtype this reader does not convert.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// A tensor the model needs is not in the file.
    case missingTensor(path: String, tensor: String)
    /// The file holds a tensor the model does not use.
    case unexpectedTensor(path: String, tensor: String)
    /// A tensor has a different shape from the one the config implies.
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    /// config.json is missing a key or has a value the model cannot use.
    case badConfig(path: String, reason: String)
    /// The config and the weights file describe different models (`reason` names the key and the tensor).
    case configMismatch(config: String, weights: String, reason: String)

    public var description: String {
        func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
        switch self {
        case let .io(path, reason): return "\(path): \(reason)"
        case let .malformed(path, reason): return "\(path): not a valid file: \(reason)"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has dtype \(dtype); supported: F32, F16, BF16, F64"
        case let .missingTensor(path, tensor): return "\(path): missing tensor '\(tensor)'"
        case let .unexpectedTensor(path, tensor): return "\(path): unexpected tensor '\(tensor)' (not part of this model)"
        case let .shapeMismatch(path, tensor, expected, found):
            return "\(path): tensor '\(tensor)' has shape \(shape(found)), expected \(shape(expected))"
        case let .badConfig(path, reason): return "\(path): \(reason)"
        case let .configMismatch(config, weights, reason):
            return "\(config) does not match \(weights): \(reason)"
        }
    }
}
