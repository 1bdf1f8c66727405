import Foundation
import Tensor

/// Element types a safetensors file may declare that we read as floats.
public enum SafeTensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .f64: return 8
        }
    }
}

/// One entry of a safetensors header.
public struct SafeTensorsEntry: Sendable {
    public let name: String
    /// The dtype string exactly as stored (e.g. "F32", "I64").
    public let dtype: String
    public let shape: [Int]
    /// Byte range within the data section.
    public let range: Range<Int>
}

/// A memory-mapped safetensors file: the header is parsed on open, tensor bytes are read on demand
/// and converted to Float32.
///
/// Layout: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}`, then the data section.
public final class SafeTensorsFile: Sendable {
    public let path: String
    /// Entries by name.
    public let entries: [String: SafeTensorsEntry]
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    /// The largest header this reader accepts (the reference implementation's limit).
    public static let maxHeaderLength = 100_000_000

    /// Bytes per element of every dtype the safetensors format defines; other dtype strings are refused.
    static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
    ]

    /// Opens and validates the file, as the format's reference implementation does: the header length
    /// within the file (and at most `maxHeaderLength`), a JSON object of entries with a known dtype, a shape
    /// of non-negative integers and integer `data_offsets` [begin, end] whose span is exactly dtype size ×
    /// element count (computed with overflow checks), the tensors' spans following each other from the start
    /// of the data section to the end of the file without gaps or overlaps, and string-to-string metadata.
    public init(path: String) throws(CheckpointError) {
        self.path = path
        file = try MappedFile(path: path)
        let bytes = file.bytes
        func bad(_ reason: String) -> CheckpointError { .malformed(path: path, reason: reason) }
        guard bytes.count >= 8 else { throw bad("file is \(bytes.count) bytes, shorter than the 8-byte header length") }
        let storedLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard storedLength <= UInt64(bytes.count - 8) else {
            throw bad("header length \(storedLength) (the first 8 bytes) does not fit in a file of \(bytes.count) bytes")
        }
        let headerLength = Int(storedLength)
        guard headerLength <= Self.maxHeaderLength else {
            throw bad("header length \(headerLength) exceeds the \(Self.maxHeaderLength)-byte limit")
        }
        guard headerLength >= 2 else { throw bad("header length \(headerLength) is too short for a JSON object") }
        dataStart = 8 + headerLength
        let header = Data(bytes[8..<dataStart])
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: header) } catch {
            throw bad("header is not valid JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error)")
        }
        guard let object = json as? [String: Any] else { throw bad("header is \(JSONValues.describe(json)), not a JSON object") }
        var entries: [String: SafeTensorsEntry] = [:]
        var metadata: [String: String] = [:]
        let dataCount = bytes.count - dataStart
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw bad("__metadata__ is \(JSONValues.describe(value)), not an object") }
                for (k, v) in map {
                    guard let text = v as? String else { throw bad("__metadata__ value '\(k)' is \(JSONValues.describe(v)), not a string") }
                    metadata[k] = text
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw bad("header entry '\(name)' is \(JSONValues.describe(value)), not an object") }
            guard let dtypeValue = info["dtype"], let shapeValue = info["shape"], let offsetsValue = info["data_offsets"] else {
                throw bad("header entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = dtypeValue as? String else { throw bad("tensor '\(name)' dtype is \(JSONValues.describe(dtypeValue)), not a string") }
            guard let itemSize = Self.dtypeSizes[dtype] else {
                throw bad("tensor '\(name)' has dtype '\(dtype)', which is not a safetensors dtype")
            }
            let shape = try Self.integers(shapeValue, field: "shape", tensor: name, path: path)
            let offsets = try Self.integers(offsetsValue, field: "data_offsets", tensor: name, path: path)
            guard offsets.count == 2 else { throw bad("tensor '\(name)' data_offsets has \(offsets.count) numbers, not [begin, end]") }
            guard offsets[0] <= offsets[1] else { throw bad("tensor '\(name)' data_offsets \(offsets) end before they begin") }
            guard offsets[1] <= dataCount else {
                throw bad("tensor '\(name)' data_offsets \(offsets) lie outside the \(dataCount)-byte data section (file truncated?)")
            }
            var size = itemSize
            for d in shape {
                let (product, overflow) = size.multipliedReportingOverflow(by: d)
                guard !overflow else { throw bad("tensor '\(name)' shape \(shape) of \(dtype) overflows: its size does not fit in 64 bits") }
                size = product
            }
            guard size == offsets[1] - offsets[0] else {
                throw bad("tensor '\(name)' holds \(offsets[1] - offsets[0]) bytes but \(dtype) \(shape) needs \(size)")
            }
            entries[name] = SafeTensorsEntry(name: name, dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        // The spans must tile the data section: begin at 0, each starting where the previous one ends, the
        // last ending at the end of the file.
        var end = 0
        for entry in entries.values.sorted(by: { ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name) }) {
            guard entry.range.lowerBound == end else {
                throw bad(entry.range.lowerBound < end
                    ? "tensor '\(entry.name)' data_offsets [\(entry.range.lowerBound), \(entry.range.upperBound)] overlap another tensor's bytes (which end at \(end))"
                    : "tensor '\(entry.name)' data_offsets begin at \(entry.range.lowerBound), leaving bytes \(end)..<\(entry.range.lowerBound) unused")
            }
            end = entry.range.upperBound
        }
        guard end == dataCount else { throw bad("the tensors end at byte \(end) of the data section, but the file holds \(dataCount - end) more bytes") }
        self.entries = entries
        self.metadata = metadata
    }

    /// A JSON list of non-negative integers (a shape or data offsets), refused with the field named.
    private static func integers(_ value: Any, field: String, tensor: String, path: String) throws(CheckpointError) -> [Int] {
        guard let list = value as? [Any] else {
            throw .malformed(path: path, reason: "tensor '\(tensor)' \(field) is \(JSONValues.describe(value)), not a list of integers")
        }
        var out: [Int] = []
        for item in list {
            guard let n = JSONValues.integer(item) else {
                throw .malformed(path: path, reason: "tensor '\(tensor)' \(field) holds \(JSONValues.describe(item)), not an integer that fits in 64 bits")
            }
            guard n >= 0 else { throw .malformed(path: path, reason: "tensor '\(tensor)' \(field) holds \(n); it must not be negative") }
            out.append(n)
        }
        return out
    }

    /// Tensor names in sorted order.
    public var names: [String] { entries.keys.sorted() }

    /// The tensor `name` converted to Float32.
    public func tensor(_ name: String) throws(CheckpointError) -> Tensor {
        guard let entry = entries[name] else { throw .missingTensor(path: path, tensor: name) }
        guard let dtype = SafeTensorsDType(rawValue: entry.dtype) else {
            throw .unsupportedDType(path: path, tensor: name, dtype: entry.dtype)
        }
        let count = entry.shape.reduce(1, *)
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + entry.range.lowerBound)..<(dataStart + entry.range.upperBound)])
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dst in
            switch dtype {
            case .f32:
                for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .f16:
                for i in 0..<count { dst[i] = floatFromHalfBits(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16:
                for i in 0..<count { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            case .f64:
                for i in 0..<count { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            }
        }
        return Tensor(shape: entry.shape, data: out)
    }
}

/// IEEE half-precision bits → Float (exact; subnormals, infinities and NaN included).
@inlinable
public func floatFromHalfBits(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        // zero or subnormal: mantissa · 2^-24
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}

/// Float → IEEE half bits, rounding to nearest even (overflow → infinity).
public func halfBitsFromFloat(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    if f.isNaN { return sign | 0x7E00 }
    let a = abs(f)
    if a >= 65520 { return sign | 0x7C00 }
    if a < 0x1p-14 {
        // subnormal half: round a / 2^-24 to an integer, ties to even
        return sign | UInt16((a * 0x1p24).rounded(.toNearestOrEven))
    }
    let e = Int((a.bitPattern >> 23) & 0xFF) - 127
    let m = a.bitPattern & 0x7F_FFFF
    var half = UInt32(e + 15) << 10 | (m >> 13)
    let rest = m & 0x1FFF
    if rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1) { half += 1 }
    return sign | UInt16(half)
}

/// Float → bfloat16 bits, rounding to nearest even.
public func bfloat16BitsFromFloat(_ f: Float) -> UInt16 {
    if f.isNaN { return UInt16(f.bitPattern >> 16) | 0x40 }
    let bits = f.bitPattern
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(rounded >> 16)
}

/// Writes tensors as a safetensors file, atomically (temporary file, then rename).
public enum SafeTensorsWriter {
    /// Writes `tensors` (names must be unique) in `dtype` with optional string `metadata`.
    public static func write(
        _ tensors: [(name: String, tensor: Tensor)], to path: String,
        dtype: SafeTensorsDType = .f32, metadata: [String: String] = [:]
    ) throws(CheckpointError) {
        let sorted = tensors.sorted { $0.name < $1.name }
        var offset = 0
        var header: [String: Any] = [:]
        for (name, tensor) in sorted {
            guard header[name] == nil else { throw .malformed(path: path, reason: "tensor '\(name)' given twice") }
            let size = tensor.count * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        guard var json = try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) else {
            throw .malformed(path: path, reason: "cannot encode header")
        }
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces so the data section is 8-aligned
        try writeFileAtomically(path) { (append) throws(CheckpointError) in
            try append(withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) })
            try append([UInt8](json))
            for (_, tensor) in sorted {
                var chunk = [UInt8]()
                chunk.reserveCapacity(tensor.count * dtype.size)
                for v in tensor.data {
                    switch dtype {
                    case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { chunk.append(contentsOf: $0) }
                    case .f16: withUnsafeBytes(of: halfBitsFromFloat(v).littleEndian) { chunk.append(contentsOf: $0) }
                    case .bf16: withUnsafeBytes(of: bfloat16BitsFromFloat(v).littleEndian) { chunk.append(contentsOf: $0) }
                    case .f64: withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { chunk.append(contentsOf: $0) }
                    }
                }
                try append(chunk)
            }
        }
    }
}

extension SafeTensorsFile {
    /// The tensor `name` as Double: bit-exact for F64, exactly widened from F32, F16 and BF16.
    public func tensorDoubles(_ name: String) throws(CheckpointError) -> [Double] {
        guard let entry = entries[name] else { throw .missingTensor(path: path, tensor: name) }
        guard let dtype = SafeTensorsDType(rawValue: entry.dtype) else {
            throw .unsupportedDType(path: path, tensor: name, dtype: entry.dtype)
        }
        if dtype != .f64 { return try tensor(name).data.map(Double.init) }
        let count = entry.shape.reduce(1, *)
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[(dataStart + entry.range.lowerBound)..<(dataStart + entry.range.upperBound)])
        return (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
    }
}

extension SafeTensorsWriter {
    /// Writes Double tensors as F64 (bit-exact) together with Float tensors stored as `floatDType`, with
    /// optional string `metadata`, atomically. Names must be unique across both lists; each Double
    /// tensor's `data.count` must equal the product of its `shape`.
    public static func write(
        doubles: [(name: String, shape: [Int], data: [Double])],
        floats: [(name: String, tensor: Tensor)] = [], floatDType: SafeTensorsDType = .f32,
        to path: String, metadata: [String: String] = [:]
    ) throws(CheckpointError) {
        enum Payload { case double([Double]), float([Float]) }
        var items: [(name: String, shape: [Int], dtype: SafeTensorsDType, payload: Payload)] = []
        for t in doubles {
            guard t.shape.allSatisfy({ $0 >= 0 }), t.data.count == t.shape.reduce(1, *) else {
                throw .malformed(path: path, reason: "tensor '\(t.name)': \(t.data.count) values do not fill shape \(t.shape)")
            }
            items.append((t.name, t.shape, .f64, .double(t.data)))
        }
        for t in floats { items.append((t.name, t.tensor.shape, floatDType, .float(t.tensor.data))) }
        items.sort { $0.name < $1.name }
        var header: [String: Any] = [:]
        var offset = 0
        for item in items {
            guard header[item.name] == nil else { throw .malformed(path: path, reason: "tensor '\(item.name)' given twice") }
            let size = item.shape.reduce(1, *) * item.dtype.size
            header[item.name] = ["dtype": item.dtype.rawValue, "shape": item.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        guard var json = try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) else {
            throw .malformed(path: path, reason: "cannot encode header")
        }
        while json.count % 8 != 0 { json.append(0x20) }
        try writeFileAtomically(path) { (append) throws(CheckpointError) in
            try append(withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) })
            try append([UInt8](json))
            for item in items {
                var chunk = [UInt8]()
                switch item.payload {
                case let .double(values):
                    chunk.reserveCapacity(values.count * 8)
                    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { chunk.append(contentsOf: $0) } }
                case let .float(values):
                    chunk.reserveCapacity(values.count * item.dtype.size)
                    for v in values {
                        switch item.dtype {
                        case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { chunk.append(contentsOf: $0) }
                        case .f16: withUnsafeBytes(of: halfBitsFromFloat(v).littleEndian) { chunk.append(contentsOf: $0) }
                        case .bf16: withUnsafeBytes(of: bfloat16BitsFromFloat(v).littleEndian) { chunk.append(contentsOf: $0) }
                        case .f64: withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { chunk.append(contentsOf: $0) }
                        }
                    }
                }
                try append(chunk)
            }
        }
    }
}
