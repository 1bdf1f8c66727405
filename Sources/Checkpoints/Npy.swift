import Tensor

/// NumPy `.npy` files holding little-endian float32 arrays in C order (format versions 1 to 3).
public enum Npy {
    /// Reads a `<f4` array (also accepts `<f8`, converted to Float; Fortran-order arrays are returned in C
    /// order). The header is parsed strictly (the dict numpy writes: 'descr', 'fortran_order', 'shape'); the
    /// element count is computed with overflow checks and must match the data exactly.
    public static func read(path: String) throws(CheckpointError) -> Tensor {
        let file = try MappedFile(path: path)
        let b = file.bytes
        func bad(_ reason: String) -> CheckpointError { .malformed(path: path, reason: reason) }
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
            throw bad("header length \(headerLength) does not fit in a file of \(b.count) bytes")
        }
        let header = try NpyHeader(UnsafeRawBufferPointer(rebasing: b[headerStart..<(headerStart + headerLength)]), path: path)
        let size: Int
        switch header.descr {
        case "<f4": size = 4
        case "<f8": size = 8
        default: throw bad("dtype '\(header.descr)' is not '<f4' or '<f8'")
        }
        var count = 1
        for d in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("shape \(header.shape) overflows: its element count does not fit in 64 bits") }
            count = product
        }
        let start = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, needed == b.count - start else {
            throw bad("data holds \(b.count - start) bytes, shape \(header.shape) of \(header.descr) needs \(overflow ? "more than 2^63" : String(needed))")
        }
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            out[i] = size == 4
                ? Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)))
                : Float(Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self))))
        }
        if header.fortranOrder, header.shape.count > 1 { out = cOrder(fortran: out, shape: header.shape) }
        return Tensor(shape: header.shape, data: out)
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
