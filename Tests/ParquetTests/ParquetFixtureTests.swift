import Foundation
import Parquet
import XCTest

/// Every fixture read by the Swift reader equals pyarrow's reading of it: metadata, every column's values
/// (nulls included) through the typed arrays and through assembled rows, and leaf subsets read alone.
final class ParquetFixtureTests: XCTestCase {
    func testFixturesExist() {
        XCTAssertEqual(ParquetFixtures.names.count, 14, "run tools/reference/make_parquet_fixtures.py")
    }

    /// The comparison the parity tests use tells apart what pyarrow would tell apart.
    func testComparisonDetectsDifferences() {
        XCTAssertNil(mismatch(.int64(-5), "i:-5", at: ""))
        XCTAssertNotNil(mismatch(.int64(-5), "i:5", at: ""))
        XCTAssertNotNil(mismatch(.null, "i:5", at: ""))
        XCTAssertNotNil(mismatch(.int32(1), NSNull(), at: ""))
        XCTAssertNil(mismatch(.float(.nan), "f:7fc00000", at: ""))
        XCTAssertNotNil(mismatch(.float(-0.0), "f:00000000", at: ""))
        XCTAssertNotNil(mismatch(.double(1), "f:3f800000", at: ""))
        XCTAssertNil(mismatch(.bytes([1, 2, 3]), "b:AQID", at: ""))
        XCTAssertNotNil(mismatch(.string("AQID"), "b:AQID", at: ""))
        XCTAssertNotNil(mismatch(.boolean(true), false, at: ""))
        XCTAssertNotNil(mismatch(.list([.int32(1)]), ["i:1", "i:1"], at: ""))
        XCTAssertNotNil(mismatch(.record([ParquetField(name: "a", value: .null)]), ["b": NSNull()], at: ""))
        XCTAssertNil(mismatch(.record([ParquetField(name: "a", value: .list([]))]), ["a": [Any]()], at: ""))
    }

    func testMetadataMatchesPyarrow() throws {
        for name in ParquetFixtures.names {
            let doc = try ParquetFixtures.json(name + ".json")
            let file = try ParquetFile(path: ParquetFixtures.path(name))
            XCTAssertEqual(file.numRows, doc["num_rows"] as? Int, name)
            XCTAssertEqual(file.createdBy, doc["created_by"] as? String, name)
            let schema = try XCTUnwrap(doc["schema"] as? [[String: Any]])
            XCTAssertEqual(file.schema.columns.count, schema.count, name)
            for (column, expected) in zip(file.schema.columns, schema) {
                let label = "\(name) \(column.dottedPath)"
                XCTAssertEqual(column.dottedPath, expected["path"] as? String, label)
                XCTAssertEqual(column.physicalType.description, expected["physical_type"] as? String, label)
                XCTAssertEqual(column.maxDefinitionLevel, expected["max_definition_level"] as? Int, label)
                XCTAssertEqual(column.maxRepetitionLevel, expected["max_repetition_level"] as? Int, label)
                XCTAssertEqual(column.convertedType?.description ?? "NONE", expected["converted_type"] as? String, label)
                XCTAssertEqual(logicalTypeName(column.logicalType), expected["logical_type"] as? String, label)
                if let length = expected["length"] as? Int { XCTAssertEqual(column.typeLength, length, label) }
            }
            let groups = try XCTUnwrap(doc["row_groups"] as? [[String: Any]])
            XCTAssertEqual(file.rowGroups.count, groups.count, name)
            for (group, expected) in zip(file.rowGroups, groups) {
                XCTAssertEqual(group.numRows, expected["num_rows"] as? Int, name)
                let chunks = try XCTUnwrap(expected["columns"] as? [[String: Any]])
                for (chunk, e) in zip(group.columns, chunks) {
                    let label = "\(name) row group \(group.index) \(chunk.column.dottedPath)"
                    XCTAssertEqual(chunk.column.dottedPath, e["path"] as? String, label)
                    XCTAssertEqual(chunk.codec.description, e["compression"] as? String, label)
                    XCTAssertEqual(Set(chunk.encodings.map(\.description)).sorted(), e["encodings"] as? [String], label)
                    XCTAssertEqual(chunk.numValues, e["num_values"] as? Int, label)
                    XCTAssertEqual(chunk.hasDictionaryPage, e["has_dictionary_page"] as? Bool, label)
                }
            }
        }
    }

    func testRowsMatchPyarrow() throws {
        for name in ParquetFixtures.names {
            let doc = try ParquetFixtures.json(name + ".json")
            let expected = try ParquetFixtures.json(try XCTUnwrap(doc["values_file"] as? String))
            let values = try XCTUnwrap(expected["values"] as? [String: [Any]])
            let file = try ParquetFile(path: ParquetFixtures.path(name))
            let rows = try readAllRows(file)
            XCTAssertEqual(rows.count, file.numRows, name)
            for (field, column) in values {
                XCTAssertEqual(column.count, rows.count, "\(name) \(field)")
                var failures = 0
                for (i, (row, e)) in zip(rows, column).enumerated() {
                    guard let value = row[field: field] else { XCTFail("\(name) row \(i) has no field \(field)"); break }
                    if let m = mismatch(value, e, at: "\(name) row \(i) \(field)") {
                        XCTFail(m)
                        failures += 1
                        if failures > 3 { break }
                    }
                }
            }
        }
    }

    /// Each top-level field read alone, and each leaf subset pyarrow read alone (e.g. `image.bytes`), gives
    /// pyarrow's values: records hold only the requested fields.
    func testColumnSubsetsMatchPyarrow() throws {
        for name in ParquetFixtures.names {
            let doc = try ParquetFixtures.json(name + ".json")
            let expected = try ParquetFixtures.json(try XCTUnwrap(doc["values_file"] as? String))
            let file = try ParquetFile(path: ParquetFixtures.path(name))
            var cases: [(request: String, values: [String: [Any]])] = []
            for (field, column) in try XCTUnwrap(expected["values"] as? [String: [Any]]) {
                cases.append((field, [field: column]))
            }
            for (path, values) in try XCTUnwrap(expected["subsets"] as? [String: [String: [Any]]]) {
                cases.append((path, values))
            }
            for (request, values) in cases {
                let rows = try readAllRows(file, columns: [request])
                for (field, column) in values {
                    for (i, (row, e)) in zip(rows, column).enumerated() {
                        guard case let .record(fields) = row, fields.count == 1, let value = row[field: field] else {
                            XCTFail("\(name) \(request) row \(i) is \(row)")
                            break
                        }
                        if let m = mismatch(value, e, at: "\(name) [\(request)] row \(i) \(field)") {
                            XCTFail(m)
                            break
                        }
                    }
                }
            }
        }
    }

    /// The typed column arrays (values and definition levels, without row assembly) of every flat column
    /// equal pyarrow's values, and the pages are of the version the fixture was written with.
    func testTypedColumnsMatchPyarrow() throws {
        var checkedColumns = 0
        for name in ParquetFixtures.names {
            let doc = try ParquetFixtures.json(name + ".json")
            let expected = try ParquetFixtures.json(try XCTUnwrap(doc["values_file"] as? String))
            let values = try XCTUnwrap(expected["values"] as? [String: [Any]])
            let options = doc["options"] as? [String: Any] ?? [:]
            let v2 = options["data_page_version"] as? String == "2.0"
            let file = try ParquetFile(path: ParquetFixtures.path(name))
            var offsets: [String: Int] = [:]
            for group in file.rowGroups.indices {
                let data = try file.readRowGroup(group)
                for column in data.columns {
                    XCTAssertEqual(v2 ? column.pages.dataV1 : column.pages.dataV2, 0, "\(name) \(column.column.dottedPath)")
                    if column.count > 0 {
                        XCTAssertGreaterThan(v2 ? column.pages.dataV2 : column.pages.dataV1, 0, "\(name) \(column.column.dottedPath)")
                    }
                    guard column.column.path.count == 1, let pyarrow = values[column.column.dottedPath] else { continue }
                    let start = offsets[column.column.dottedPath, default: 0]
                    offsets[column.column.dottedPath] = start + column.count
                    for (i, index) in column.valueIndices().enumerated() {
                        let e = pyarrow[start + i]
                        let ours = index.map { typedValue(column, $0) } ?? .null
                        if let m = mismatch(ours, e, at: "\(name) typed \(column.column.dottedPath)[\(start + i)]") {
                            XCTFail(m)
                            break
                        }
                    }
                    checkedColumns += 1
                }
            }
            for (path, count) in offsets { XCTAssertEqual(count, values[path]?.count, "\(name) \(path)") }
        }
        XCTAssertGreaterThan(checkedColumns, 100)
    }

    /// The fixtures together exercise every encoding, codec and page kind the reader supports (as the
    /// files' own metadata says), so that the parity tests above cover them all.
    func testFixturesCoverTheSupportedFeatures() throws {
        var encodings = Set<String>(), codecs = Set<String>(), types = Set<String>()
        var pages = PageCounts()
        for name in ParquetFixtures.names {
            let file = try ParquetFile(path: ParquetFixtures.path(name))
            for group in file.rowGroups {
                for chunk in group.columns {
                    encodings.formUnion(chunk.encodings.map(\.description))
                    codecs.insert(chunk.codec.description)
                    types.insert(chunk.column.physicalType.description)
                }
                for column in try file.readRowGroup(group.index).columns {
                    pages.dictionary += column.pages.dictionary
                    pages.dataV1 += column.pages.dataV1
                    pages.dataV2 += column.pages.dataV2
                }
            }
        }
        XCTAssertEqual(encodings, ["PLAIN", "PLAIN_DICTIONARY", "RLE", "RLE_DICTIONARY", "DELTA_BINARY_PACKED",
                                   "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "BYTE_STREAM_SPLIT"])
        XCTAssertEqual(codecs, ["UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD"])
        XCTAssertEqual(types, ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"])
        XCTAssertGreaterThan(pages.dictionary, 0)
        XCTAssertGreaterThan(pages.dataV1, 100)
        XCTAssertGreaterThan(pages.dataV2, 100)
    }

    /// A Hugging Face image table: `image_gen0.bytes` read alone comes out as the PNG files' bytes.
    func testHuggingFaceImageColumn() throws {
        let file = try ParquetFile(path: ParquetFixtures.path("hf_images"))
        XCTAssertTrue(file.metadata["huggingface"]?.contains("\"_type\": \"Image\"") ?? false)
        XCTAssertEqual(try file.columns(["image_gen0"]).map(\.dottedPath), ["image_gen0.bytes", "image_gen0.path"])
        var images = 0, nulls = 0
        for group in file.rowGroups.indices {
            let data = try file.readRowGroup(group, columns: ["image_gen0.bytes"])
            XCTAssertEqual(data.columns.map(\.column.dottedPath), ["image_gen0.bytes"])
            let column = try XCTUnwrap(data.column("image_gen0.bytes"))
            guard case let .byteArray(bytes) = column.values else { return XCTFail("not a byte array column") }
            for value in bytes {
                XCTAssertEqual(Array(value.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
                images += 1
            }
            for row in try data.rows() where row[field: "image_gen0"] == .null { nulls += 1 }
        }
        XCTAssertEqual(images + nulls, file.numRows)
        XCTAssertGreaterThan(nulls, 0)
    }

    func testUnknownColumnsAndRowGroupsAreErrors() throws {
        let path = ParquetFixtures.path("nested_dict_snappy_v1")
        let file = try ParquetFile(path: path)
        XCTAssertThrowsError(try file.readRowGroup(0, columns: ["image.pixels"])) { error in
            XCTAssertEqual(error as? ParquetError, .noSuchColumn(file: path, column: "image.pixels"))
        }
        XCTAssertThrowsError(try file.readRowGroup(0, columns: [])) { error in
            XCTAssertEqual((error as? ParquetError)?.description, "\(path): no columns requested")
        }
        XCTAssertThrowsError(try file.readRowGroup(file.rowGroups.count)) { error in
            XCTAssertEqual(error as? ParquetError, .noSuchRowGroup(file: path, index: file.rowGroups.count, count: file.rowGroups.count))
        }
    }

    // MARK: helpers

    private func typedValue(_ column: ColumnData, _ i: Int) -> ParquetValue {
        switch column.values {
        case let .boolean(v): return .boolean(v[i])
        case let .int32(v): return .int32(v[i])
        case let .int64(v): return .int64(v[i])
        case let .float(v): return .float(v[i])
        case let .double(v): return .double(v[i])
        case let .byteArray(v) where column.column.isString: return v.string(at: i).map(ParquetValue.string) ?? .null
        case let .int96(v), let .byteArray(v), let .fixedLenByteArray(v): return .bytes(Array(v[i]))
        }
    }

    private func logicalTypeName(_ type: LogicalType?) -> String {
        switch type {
        case nil: return "None"
        case .string?: return "String"
        case .date?: return "Date"
        case let .integer(bitWidth, signed)?: return "Int(bitWidth=\(bitWidth), isSigned=\(signed))"
        case let other?: return "\(other)"
        }
    }
}
