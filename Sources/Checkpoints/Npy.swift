import Tensor

/// NumPy `.npy` arrays (format versions 1 to 3), read from files or from bytes in memory (a shard's field).
public enum Npy {
    /// Reads a `.npy` file holding `<f4` or `<f8` (the only types model and fixture files hold; anything else
    /// there is a wrong file); otherwise as ``decode(_:name:)``.
    public static func read(path: String) throws(CheckpointError) -> Tensor {
        let file = try MappedFile(path: path)
        return try decode(file.bytes, name: path, dtypes: ["<f4", "<f8"])
    }

    /// Decodes a whole `.npy` file held in memory, named `name` in errors. The header is parsed strictly (the
    /// dict numpy writes: 'descr', 'fortran_order', 'shape'); dtypes are floats (`f2`, `f4`, `f8`), signed and
    /// unsigned integers (1–8 bytes) and booleans in either byte order, converted to `Float`; Fortran-order
    /// arrays are returned in C order; the element count is overflow-checked and must match the data exactly.
    public static func decode(_ b: UnsafeRawBufferPointer, name: String) throws(CheckpointError) -> Tensor {
        try decode(b, name: name, dtypes: nil)
    }

    /// ``decode(_:name:)`` accepting only the `dtypes` listed (all the reader knows when nil).
    static func decode(_ b: UnsafeRawBufferPointer, name: String, dtypes: [String]?) throws(CheckpointError) -> Tensor {
        func bad(_ reason: String) -> CheckpointError { .malformed(path: name, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard b.count >= 10, Array(b[0..<6]) == magic else { throw bad("no .npy magic") }
        let major = b[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(b[8]) | Int(b[9]) << 8; headerStart = 10
        case 2, 3:
            guard b.count >= 12 else { throw bad("truncated header") }
            headerLength = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self))); headerStart = 12
        default:
            throw bad("format version \(major).\(b[7]) (this reader knows 1 to 3)")
        }
        guard headerLength <= b.count - headerStart else {
            throw bad("header length \(headerLength) does not fit in \(b.count) bytes")
        }
        let header = try NpyHeader(UnsafeRawBufferPointer(rebasing: b[headerStart..<(headerStart + headerLength)]), path: name)
        if let dtypes, !dtypes.contains(header.descr) {
            throw bad("dtype '\(header.descr)' is not " + dtypes.map { "'\($0)'" }.joined(separator: " or "))
        }
        guard let dtype = NpyDType(header.descr) else {
            throw bad("dtype '\(header.descr)' is not a float, integer or boolean type")
        }
        var count = 1
        for d in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("shape \(header.shape) overflows: its element count does not fit in 64 bits") }
            count = product
        }
        let start = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, needed == b.count - start else {
            throw bad("data holds \(b.count - start) bytes, shape \(header.shape) of \(header.descr) needs \(overflow ? "more than 2^63" : String(needed))")
        }
        var out = [Float](repeating: 0, count: count)
        if count > 0 {
            let base = b.baseAddress! + start
            for i in 0..<count { out[i] = dtype.load(base + i * dtype.size) }
        }
        if header.fortranOrder, header.shape.count > 1 { out = cOrder(fortran: out, shape: header.shape) }
        return Tensor(shape: header.shape, data: out)
    }

    /// ``decode(_:name:)`` on an array of bytes.
    public static func decode(_ bytes: [UInt8], name: String) throws(CheckpointError) -> Tensor {
        do {
            return try bytes.withUnsafeBytes { raw in try decode(raw, name: name) }
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .malformed(path: name, reason: "\(error)")  // unreachable: decode throws only CheckpointError
        }
    }

    /// Elements stored in Fortran (column-major) order, rearranged into C (row-major) order.
    static func cOrder(fortran values: [Float], shape: [Int]) -> [Float] {
        let rank = shape.count
        var out = [Float](repeating: 0, count: values.count)
        guard !values.isEmpty else { return out }
        var index = [Int](repeating: 0, count: rank)
        var strides = [Int](repeating: 1, count: rank)  // Fortran strides: the first axis varies fastest
        for a in 1..<rank { strides[a] = strides[a - 1] * shape[a - 1] }
        for c in 0..<values.count {
            var f = 0
            for a in 0..<rank { f += index[a] * strides[a] }
            out[c] = values[f]
            var a = rank - 1
            while a >= 0 {
                index[a] += 1
                if index[a] < shape[a] { break }
                index[a] = 0
                a -= 1
            }
        }
        return out
    }

    /// The bytes of a version 1.0 `.npy` file holding `tensor` as `<f4`.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        out.append(UInt8(header.utf8.count & 0xFF)); out.append(UInt8(header.utf8.count >> 8))
        out.append(contentsOf: header.utf8)
        out.reserveCapacity(out.count + tensor.count * 4)
        for v in tensor.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes `tensor` to `path` atomically.
    public static func write(_ tensor: Tensor, to path: String) throws(CheckpointError) {
        let bytes = encode(tensor)
        try writeFileAtomically(path) { (append) throws(CheckpointError) in try append(bytes) }
    }
}

/// An element type of a `.npy` array that converts to `Float`: `f2`/`f4`/`f8`, `i1`–`i8`, `u1`–`u8`, `b1`,
/// with `<`, `>`, `|` or `=` (native, little-endian here) before it.
struct NpyDType {
    enum Kind { case float, signed, unsigned, bool }
    let kind: Kind
    let size: Int
    let bigEndian: Bool

    init?(_ descr: String) {
        var text = Substring(descr)
        var big = false
        if let first = text.first, "<>|=".contains(first) {
            big = first == ">"
            text = text.dropFirst()
        }
        guard let code = text.first, let size = Int(text.dropFirst()) else { return nil }
        switch (code, size) {
        case ("f", 2), ("f", 4), ("f", 8): kind = .float
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8): kind = .signed
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8): kind = .unsigned
        case ("b", 1): kind = .bool
        default: return nil
        }
        self.size = size
        bigEndian = big
    }

    /// The element at `pointer`, as `Float`.
    func load(_ pointer: UnsafeRawPointer) -> Float {
        var raw: UInt64 = 0
        for index in 0..<size {
            raw = raw << 8 | UInt64(pointer.load(fromByteOffset: bigEndian ? index : size - 1 - index, as: UInt8.self))
        }
        switch kind {
        case .bool: return raw != 0 ? 1 : 0
        case .unsigned: return Float(raw)
        case .signed:
            let shift = UInt64(64 - 8 * size)
            return Float(Int64(bitPattern: raw << shift) >> Int64(shift))
        case .float:
            switch size {
            case 2: return Float(Float16(bitPattern: UInt16(raw)))
            case 4: return Float(bitPattern: UInt32(raw))
            default: return Float(Double(bitPattern: raw))
            }
        }
    }
}

/// The header of a `.npy` file: the Python dict literal numpy writes, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, parsed strictly (exactly these three keys).
struct NpyHeader {
    var descr = ""
    var fortranOrder = false
    var shape: [Int] = []

    init(_ raw: UnsafeRawBufferPointer, path: String) throws(CheckpointError) {
        let text = Array(raw)
        var i = 0
        func bad(_ reason: String) -> CheckpointError { .malformed(path: path, reason: "header: \(reason)") }
        func skipSpace() { while i < text.count, [0x20, 0x09, 0x0A, 0x0D].contains(text[i]) { i += 1 } }
        func expect(_ c: UInt8) throws(CheckpointError) {
            skipSpace()
            guard i < text.count, text[i] == c else { throw bad("expected '\(Character(Unicode.Scalar(c)))' at byte \(i)") }
            i += 1
        }
        func peek(_ c: UInt8) -> Bool { skipSpace(); return i < text.count && text[i] == c }
        func quoted() throws(CheckpointError) -> String {
            skipSpace()
            guard i < text.count, text[i] == 0x27 || text[i] == 0x22 else { throw bad("expected a quoted string at byte \(i)") }
            let quote = text[i]
            i += 1
            let start = i
            while i < text.count, text[i] != quote {
                guard text[i] != 0x5C else { throw bad("escapes in strings are not supported") }
                i += 1
            }
            guard i < text.count else { throw bad("unterminated string") }
            defer { i += 1 }
            return String(decoding: text[start..<i], as: UTF8.self)
        }
        func word() -> String {
            skipSpace()
            let start = i
            while i < text.count, (0x41...0x5A).contains(text[i]) || (0x61...0x7A).contains(text[i]) || (0x30...0x39).contains(text[i]) { i += 1 }
            return String(decoding: text[start..<i], as: UTF8.self)
        }
        var seen: Set<String> = []
        try expect(0x7B)  // {
        while !peek(0x7D) {
            let key = try quoted()
            guard seen.insert(key).inserted else { throw bad("key '\(key)' given twice") }
            try expect(0x3A)  // :
            switch key {
            case "descr": descr = try quoted()
            case "fortran_order":
                switch word() {
                case "True": fortranOrder = true
                case "False": fortranOrder = false
                case let other: throw bad("fortran_order is '\(other)', not True or False")
                }
            case "shape":
                try expect(0x28)  // (
                while !peek(0x29) {
                    let digits = word()
                    guard !digits.isEmpty, digits.allSatisfy(\.isNumber) else {
                        let found = digits.isEmpty ? String(decoding: text[i..<min(i + 1, text.count)], as: UTF8.self) : digits
                        throw bad("shape holds '\(found)', not a non-negative integer")
                    }
                    guard let d = Int(digits) else { throw bad("shape dimension \(digits) does not fit in 64 bits") }
                    shape.append(d)
                    if !peek(0x29) { try expect(0x2C) }
                }
                try expect(0x29)
            default:
                throw bad("unexpected key '\(key)' (a .npy header has descr, fortran_order and shape)")
            }
            if !peek(0x7D) { try expect(0x2C) }
        }
        try expect(0x7D)
        skipSpace()
        guard i == text.count else { throw bad("text after the dict at byte \(i)") }
        guard seen == ["descr", "fortran_order", "shape"] else {
            throw bad("missing \(["descr", "fortran_order", "shape"].filter { !seen.contains($0) }.joined(separator: ", "))")
        }
    }
}
