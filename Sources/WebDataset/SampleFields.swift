// Decoding a sample's fields by extension, as webdataset's default decoders do (`autodecode.basichandlers` and
// the image handler): the extension is what follows the field name's last dot ("gen_0.jpg" → "jpg").

import Checkpoints
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

    /// The field as a NumPy array (see `Npy.decode(_:name:)` in Checkpoints). Nil when the field is absent.
    public func npy(_ field: String) throws(WebDatasetError) -> Tensor? {
        guard let bytes = self[field: field] else { return nil }
        do throws(CheckpointError) {
            return try Npy.decode(bytes, name: fieldName(field))
        } catch {
            guard case .malformed(_, let reason) = error else { throw fieldError(field, "invalid .npy data: \(error)") }
            throw fieldError(field, "invalid .npy data: \(reason)")
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
