// Decoding a sample's fields by extension, as webdataset's default decoders do (`autodecode.basichandlers` and
// the image handler): the extension is what follows the field name's last dot ("gen_0.jpg" → "jpg").

import Foundation
import Imaging
import Tensor

/// A decoded field (see ``Sample/decoded(_:imageOptions:)``).
public enum FieldValue {
    case text(String)
    case integer(Int)
    case json(Any)
    case tensor(Tensor)
    case image(RGBImage)
    case bytes([UInt8])
}

/// How a field is decoded, from its extension.
public enum FieldKind: Sendable, Hashable {
    case text, integer, json, npy, image, bytes

    /// webdataset's mapping: txt/text/transcript → text; cls/cls2/class/count/index/inx/id → integer;
    /// json/jsn → JSON; npy → array; the image extensions this package decodes (jpg, jpeg, png, bmp, gif, tif,
    /// tiff, webp) → image; anything else → raw bytes. Case-insensitive.
    public init(field: String) {
        let ext = (field.split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? field).lowercased()
        switch ext {
        case "txt", "text", "transcript": self = .text
        case "cls", "cls2", "class", "count", "index", "inx", "id": self = .integer
        case "json", "jsn": self = .json
        case "npy": self = .npy
        default: self = imageFileExtensions.contains(ext) ? .image : .bytes
        }
    }
}

extension Sample {
    /// How errors name a field: `SHARD#KEY.FIELD`.
    public func fieldName(_ field: String) -> String { "\(shard)#\(key).\(field)" }

    private func fieldError(_ field: String, _ reason: String) -> WebDatasetError {
        WebDatasetError(.sample, shard: shard, reason: "\(fieldName(field)): \(reason)")
    }

    /// The field as UTF-8 text (webdataset's `.txt` decoder: strict UTF-8). Nil when the field is absent.
    public func text(_ field: String) throws(WebDatasetError) -> String? {
        guard let bytes = self[field: field] else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fieldError(field, "not valid UTF-8") }
        return text
    }

    /// The field as an integer (webdataset's `.cls` decoder, `int(bytes)`: surrounding whitespace, a sign and
    /// `_` digit separators accepted). Nil when the field is absent.
    public func integer(_ field: String) throws(WebDatasetError) -> Int? {
        guard let bytes = self[field: field] else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let digits = text.replacingOccurrences(of: "_", with: "")
        guard !text.hasPrefix("_"), !text.hasSuffix("_"), !text.contains("__"), let value = Int(digits) else {
            throw fieldError(field, "not an integer: \(text.prefix(40))")
        }
        return value
    }

    /// The field parsed as JSON (Foundation's `JSONSerialization`, fragments allowed). Nil when the field is absent.
    public func json(_ field: String) throws(WebDatasetError) -> Any? {
        guard let bytes = self[field: field] else { return nil }
        do {
            return try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw fieldError(field, "invalid JSON: \(error.localizedDescription)")
        }
    }

    /// The field decoded as `type` with `JSONDecoder`. Nil when the field is absent.
    public func json<T: Decodable>(_ field: String, as type: T.Type) throws(WebDatasetError) -> T? {
        guard let bytes = self[field: field] else { return nil }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw fieldError(field, "cannot decode JSON as \(T.self): \(error)")
        }
    }

    /// The field as a NumPy array (see ``NpyArray/decode(_:name:)``). Nil when the field is absent.
    public func npy(_ field: String) throws(WebDatasetError) -> Tensor? {
        guard let bytes = self[field: field] else { return nil }
        do throws(NpyArray.DecodeError) {
            return try NpyArray.decode(bytes)
        } catch {
            throw fieldError(field, "invalid .npy data: \(error.reason)")
        }
    }

    /// The field decoded as an image (format detected from the content), named `SHARD#KEY.FIELD` in errors.
    /// Nil when the field is absent.
    public func image(_ field: String, options: DecodeOptions = .init()) throws(WebDatasetError) -> RGBImage? {
        guard let bytes = self[field: field] else { return nil }
        let name = fieldName(field)
        let result: Result<RGBImage, ImageError> = bytes.withUnsafeBytes { raw in
            do throws(ImageError) { return .success(try decodeImage(raw, name: name, options: options)) }
            catch { return .failure(error) }
        }
        switch result {
        case .success(let image): return image
        case .failure(let error): throw WebDatasetError(.sample, shard: shard, reason: error.description)
        }
    }

    /// The field decoded by its extension (``FieldKind``). Nil when the field is absent.
    public func decoded(_ field: String, imageOptions: DecodeOptions = .init()) throws(WebDatasetError) -> FieldValue? {
        guard let bytes = self[field: field] else { return nil }
        switch FieldKind(field: field) {
        case .text: return .text(try text(field)!)
        case .integer: return .integer(try integer(field)!)
        case .json: return .json(try json(field)!)
        case .npy: return .tensor(try npy(field)!)
        case .image: return .image(try image(field, options: imageOptions)!)
        case .bytes: return .bytes(bytes)
        }
    }
}

/// In-memory `.npy` decoding (Checkpoints' `Npy` reads files). Versions 1–3; C or Fortran order; little- or
/// big-endian floats (`f2`, `f4`, `f8`), signed and unsigned integers (1–8 bytes) and booleans, converted to
/// `Float` in a ``Tensor`` of the array's shape (a scalar has shape `[]`).
public enum NpyArray {
    /// Why bytes are not a supported `.npy` array.
    public struct DecodeError: Error, Sendable, Equatable {
        /// What is wrong.
        public var reason: String
    }

    /// Decodes a whole `.npy` file held in memory.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Tensor {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw DecodeError(reason: "no .npy magic") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw DecodeError(reason: "truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw DecodeError(reason: "unsupported format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else { throw DecodeError(reason: "truncated header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = quotedValue(header, key: "descr") else { throw DecodeError(reason: "no descr in header") }
        guard let shape = shapeValue(header) else { throw DecodeError(reason: "no shape in header") }
        let fortran = header.range(of: #"'fortran_order'\s*:\s*True"#, options: .regularExpression) != nil
        let dtype = try DType(descr)
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard dimension >= 0, !overflow else { throw DecodeError(reason: "bad shape \(shape)") }
            count = product
        }
        let start = headerStart + headerLength
        let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, bytes.count - start >= needed else {
            throw DecodeError(reason: "data holds \(bytes.count - start) bytes, shape \(shape) of \(descr) needs \(needed)")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + start
            for index in 0..<count { values[index] = dtype.load(base + index * dtype.size) }
        }
        if fortran && shape.count > 1 { values = cOrder(fromFortran: values, shape: shape) }
        return Tensor(shape: shape, data: values)
    }

    private struct DType {
        enum Kind { case float, signed, unsigned, bool }
        let kind: Kind
        let size: Int
        let bigEndian: Bool

        init(_ descr: String) throws(DecodeError) {
            var text = Substring(descr)
            var big = false
            if let first = text.first, "<>|=".contains(first) {
                big = first == ">"
                text = text.dropFirst()
            }
            guard let code = text.first, let size = Int(text.dropFirst()) else {
                throw DecodeError(reason: "unsupported dtype \(descr)")
            }
            switch (code, size) {
            case ("f", 2), ("f", 4), ("f", 8): kind = .float
            case ("i", 1), ("i", 2), ("i", 4), ("i", 8): kind = .signed
            case ("u", 1), ("u", 2), ("u", 4), ("u", 8): kind = .unsigned
            case ("b", 1): kind = .bool
            default: throw DecodeError(reason: "unsupported dtype \(descr)")
            }
            self.size = size
            bigEndian = big
        }

        func load(_ pointer: UnsafeRawPointer) -> Float {
            var raw: UInt64 = 0
            for index in 0..<size {
                let byte = UInt64(pointer.load(fromByteOffset: bigEndian ? index : size - 1 - index, as: UInt8.self))
                raw = raw << 8 | byte
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

    private static func quotedValue(_ header: String, key: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)'") else { return nil }
        let rest = header[keyRange.upperBound...]
        guard let open = rest.firstIndex(where: { $0 == "'" || $0 == "\"" }) else { return nil }
        let quote = rest[open]
        guard let close = rest[rest.index(after: open)...].firstIndex(of: quote) else { return nil }
        return String(rest[rest.index(after: open)..<close])
    }

    private static func shapeValue(_ header: String) -> [Int]? {
        guard let keyRange = header.range(of: "'shape'"),
              let open = header[keyRange.upperBound...].firstIndex(of: "("),
              let close = header[open...].firstIndex(of: ")") else { return nil }
        var shape: [Int] = []
        for part in header[header.index(after: open)..<close].split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if trimmed.isEmpty { continue }
            guard let value = Int(trimmed) else { return nil }
            shape.append(value)
        }
        return shape
    }

    /// Reorders column-major values into row-major order.
    private static func cOrder(fromFortran values: [Float], shape: [Int]) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        var fortranStrides = [Int](repeating: 1, count: shape.count)
        for axis in 1..<shape.count { fortranStrides[axis] = fortranStrides[axis - 1] * shape[axis - 1] }
        var index = [Int](repeating: 0, count: shape.count)
        for flat in 0..<values.count {
            var source = 0
            for axis in 0..<shape.count { source += index[axis] * fortranStrides[axis] }
            out[flat] = values[source]
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return out
    }
}
