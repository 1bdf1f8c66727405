/// Why a pickle or joblib stream was refused. Offsets are byte positions in the (decompressed) stream.
public indirect enum PickleError: Error, CustomStringConvertible, Equatable {
    /// The stream names a class or function outside the allow-list. Refused when the name is read, before
    /// anything could use it.
    case forbiddenGlobal(module: String, name: String)
    /// The stream ends before an opcode's argument or a declared payload.
    case truncated(offset: Int, reason: String)
    /// A byte that is not a pickle opcode.
    case unknownOpcode(opcode: UInt8, offset: Int)
    /// The opcodes do not form a valid pickle (stack underflow, wrong operand types, bad text literal, ...).
    case malformed(offset: Int, reason: String)
    /// A structural limit was hit (stack, memo, nesting, size): refused as hostile or absurd.
    case limitExceeded(offset: Int, reason: String)
    /// A valid feature this reader does not implement (persistent ids, extension codes, a compression
    /// format, a dtype, ...).
    case unsupported(offset: Int?, reason: String)
    /// Array contents requested in a form the array cannot give (wrong dtype kind, out-of-range value).
    case badArray(reason: String)
    /// The file could not be read.
    case io(path: String, reason: String)
    /// An error while reading the file `path`.
    case inFile(path: String, error: PickleError)

    /// The error without the file context.
    public var underlying: PickleError {
        if case let .inFile(_, error) = self { return error.underlying }
        return self
    }

    public var description: String {
        switch self {
        case let .forbiddenGlobal(module, name):
            return "forbidden global '\(module).\(name)': the pickle refers to a class or function outside the allow-list (nothing was executed)"
        case let .truncated(offset, reason): return "truncated pickle at byte \(offset): \(reason)"
        case let .unknownOpcode(opcode, offset):
            let hex = String(opcode, radix: 16, uppercase: false)
            return "unknown pickle opcode 0x\(hex.count < 2 ? "0" + hex : hex) at byte \(offset)"
        case let .malformed(offset, reason): return "malformed pickle at byte \(offset): \(reason)"
        case let .limitExceeded(offset, reason): return "pickle refused at byte \(offset): \(reason)"
        case let .unsupported(offset?, reason): return "unsupported pickle content at byte \(offset): \(reason)"
        case let .unsupported(nil, reason): return "unsupported: \(reason)"
        case let .badArray(reason): return "array: \(reason)"
        case let .io(path, reason): return "\(path): \(reason)"
        case let .inFile(path, error): return "\(path): \(error.description)"
        }
    }
}
