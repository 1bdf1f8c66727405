import Foundation
import Parquet
import TestSupport

/// The Parquet fixtures written by tools/reference/make_parquet_fixtures.py, and pyarrow's reading of them.
enum ParquetFixtures {
    static let directory = Fixtures.url("parquet")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name + ".parquet").path }

    /// The fixture names (one `<name>.parquet` with its `<name>.json` each).
    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".parquet") }.map { String($0.dropLast(".parquet".count)) }.sorted()
    }

    static func json(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return object
    }
}

/// Compares an assembled value with pyarrow's, in the fixture's tagged JSON form (see the script): returns
/// nil when they are equal, else where and how they differ.
func mismatch(_ value: ParquetValue, _ expected: Any, at path: String) -> String? {
    func differ(_ ours: String) -> String { "\(path): ours \(ours), pyarrow \(expected)" }
    switch value {
    case .null:
        return expected is NSNull ? nil : differ("null")
    case let .boolean(b):
        return (expected as? Bool) == b ? nil : differ("\(b)")
    case let .int32(v): return tagged("i:\(v)")
    case let .int64(v): return tagged("i:\(v)")
    case let .float(v): return tagged("f:" + hex(UInt64(v.bitPattern), digits: 8))
    case let .double(v): return tagged("d:" + hex(v.bitPattern, digits: 16))
    case let .string(s): return tagged("u:" + s)
    case let .bytes(b): return tagged("b:" + Data(b).base64EncodedString())
    case let .list(items):
        guard let e = expected as? [Any] else { return differ("a list of \(items.count)") }
        guard e.count == items.count else { return differ("a list of \(items.count)") }
        for (i, (item, x)) in zip(items, e).enumerated() {
            if let m = mismatch(item, x, at: "\(path)[\(i)]") { return m }
        }
        return nil
    case let .record(fields):
        guard let e = expected as? [String: Any] else { return differ("a record") }
        guard Set(fields.map(\.name)) == Set(e.keys), fields.count == e.count else {
            return differ("a record with fields \(fields.map(\.name))")
        }
        for field in fields {
            if let m = mismatch(field.value, e[field.name] as Any, at: "\(path).\(field.name)") { return m }
        }
        return nil
    }

    func tagged(_ ours: String) -> String? {
        (expected as? String) == ours ? nil : differ(ours)
    }
}

private func hex(_ v: UInt64, digits: Int) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, digits - s.count)) + s
}

/// Every row of `file` (all row groups), reading only `columns` (nil: all).
func readAllRows(_ file: ParquetFile, columns: [String]? = nil) throws -> [ParquetValue] {
    var rows: [ParquetValue] = []
    for group in file.rowGroups.indices {
        rows += try file.readRowGroup(group, columns: columns).rows()
    }
    return rows
}
