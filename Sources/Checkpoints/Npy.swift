import Tensor

/// NumPy `.npy` files holding little-endian float32 arrays in C order (format versions 1 to 3).
public enum Npy {
    /// Reads a `<f4` C-order array (also accepts `<f8`, converted to Float).
    public static func read(path: String) throws(CheckpointError) -> Tensor {
        let file = try MappedFile(path: path)
        let b = file.bytes
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard b.count >= 10, Array(b[0..<6]) == magic else { throw .malformed(path: path, reason: "no .npy magic") }
        let major = b[6]
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(b[8]) | Int(b[9]) << 8; headerStart = 10
        } else {
            guard b.count >= 12 else { throw .malformed(path: path, reason: "truncated header") }
            headerLength = Int(b.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian); headerStart = 12
        }
        guard headerStart + headerLength <= b.count else { throw .malformed(path: path, reason: "truncated header") }
        let header = String(decoding: b[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let isF4 = header.contains("'<f4'"), isF8 = header.contains("'<f8'")
        guard isF4 || isF8 else { throw .malformed(path: path, reason: "dtype is not '<f4' or '<f8': \(header)") }
        guard header.contains("'fortran_order': False") else { throw .malformed(path: path, reason: "Fortran order is not supported") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw .malformed(path: path, reason: "no shape in header")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: " ")) }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        let size = isF4 ? 4 : 8
        guard b.count - start >= count * size else { throw .malformed(path: path, reason: "data holds \(b.count - start) bytes, shape \(shape) needs \(count * size)") }
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            out[i] = isF4
                ? Float(bitPattern: b.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self).littleEndian)
                : Float(Double(bitPattern: b.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self).littleEndian))
        }
        return Tensor(shape: shape, data: out)
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

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
