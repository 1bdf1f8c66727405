import Foundation
import Parquet
import XCTest

/// A minimal Thrift compact protocol writer, for crafting Parquet files byte by byte in tests (what pyarrow
/// never writes: unknown fields, legacy lists, unsupported features, absurd sizes).
struct ThriftWriter {
    static let bool = UInt8(1), i32 = UInt8(5), i64 = UInt8(6), double = UInt8(7), binary = UInt8(8)
    static let list = UInt8(9), map = UInt8(11), structure = UInt8(12)

    private(set) var bytes: [UInt8] = []
    private var lastIDs: [Int] = [0]

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func zigzag(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    mutating func field(_ id: Int, _ type: UInt8) {
        let delta = id - lastIDs[lastIDs.count - 1]
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta << 4) | type)
        } else {
            bytes.append(type)
            zigzag(Int64(id))
        }
        lastIDs[lastIDs.count - 1] = id
    }

    mutating func int(_ id: Int, _ value: Int64, type: UInt8 = ThriftWriter.i32) {
        field(id, type)
        zigzag(value)
    }

    mutating func string(_ id: Int, _ value: String) {
        field(id, Self.binary)
        varint(UInt64(value.utf8.count))
        bytes += Array(value.utf8)
    }

    mutating func flag(_ id: Int, _ value: Bool) { field(id, value ? 1 : 2) }

    mutating func raw(_ extra: [UInt8]) { bytes += extra }

    /// A struct field whose fields `body` writes.
    mutating func structure(_ id: Int, _ body: (inout ThriftWriter) -> Void) {
        field(id, Self.structure)
        element(body)
    }

    /// A struct as a list element (or the top-level struct).
    mutating func element(_ body: (inout ThriftWriter) -> Void) {
        lastIDs.append(0)
        body(&self)
        bytes.append(0)
        lastIDs.removeLast()
    }

    mutating func listHeader(_ id: Int, of type: UInt8, count: Int) {
        field(id, Self.list)
        if count < 15 {
            bytes.append(UInt8(count << 4) | type)
        } else {
            bytes.append(0xf0 | type)
            varint(UInt64(count))
        }
    }
}

/// A page to put in a crafted column chunk.
struct CraftedPage {
    var type: Int64 = 0 // DATA_PAGE
    var numValues: Int64
    var encoding: Int64 = 0 // PLAIN
    var definitionEncoding: Int64 = 3 // RLE
    var body: [UInt8]
    var uncompressedSize: Int64?
    var compressedSize: Int64?
    /// Fields added to the page header.
    var extraHeader: ((inout ThriftWriter) -> Void)?

    func header() -> [UInt8] {
        var w = ThriftWriter()
        w.element { w in
            w.int(1, type)
            w.int(2, uncompressedSize ?? Int64(body.count))
            w.int(3, compressedSize ?? Int64(body.count))
            if type == 2 {
                w.structure(7) { w in
                    w.int(1, numValues)
                    w.int(2, encoding)
                }
            } else {
                w.structure(5) { w in
                    w.int(1, numValues)
                    w.int(2, encoding)
                    w.int(3, definitionEncoding)
                    w.int(4, 3)
                }
            }
            extraHeader?(&w)
        }
        return w.bytes
    }
}

/// A schema element of a crafted file.
struct CraftedElement {
    var name: String
    var type: Int64?
    var repetition: Int64?
    var children: Int64?
    var converted: Int64?
}

/// A one-row-group Parquet file built from explicit schema elements and column chunks.
struct CraftedParquet {
    var schema: [CraftedElement]
    var numRows: Int64
    /// One per leaf: its path, physical type, codec, declared value count and pages.
    var chunks: [(path: [String], type: Int64, codec: Int64, numValues: Int64, pages: [CraftedPage])]
    /// Fields added to the footer's FileMetaData, ColumnMetaData and SchemaElement structs.
    var extraFooter: ((inout ThriftWriter) -> Void)?
    var extraColumnMeta: ((inout ThriftWriter) -> Void)?
    var extraSchema: ((inout ThriftWriter) -> Void)?
    /// Added to every data page offset the footer records (to point chunks elsewhere).
    var offsetShift: Int64 = 0

    func bytes() -> [UInt8] {
        var file = Array("PAR1".utf8)
        var metas: [(offset: Int64, dictionary: Int64?, size: Int64)] = []
        for chunk in chunks {
            let start = Int64(file.count)
            var dataOffset: Int64?
            var dictionaryOffset: Int64?
            for page in chunk.pages {
                if page.type == 2 { dictionaryOffset = dictionaryOffset ?? Int64(file.count) } else { dataOffset = dataOffset ?? Int64(file.count) }
                file += page.header() + page.body
            }
            metas.append((dataOffset ?? start, dictionaryOffset, Int64(file.count) - start))
        }
        var w = ThriftWriter()
        w.element { w in
            w.int(1, 1)
            w.listHeader(2, of: ThriftWriter.structure, count: schema.count)
            for e in schema {
                w.element { w in
                    if let type = e.type { w.int(1, type) }
                    if let repetition = e.repetition { w.int(3, repetition) }
                    w.string(4, e.name)
                    if let children = e.children { w.int(5, children) }
                    if let converted = e.converted { w.int(6, converted) }
                    extraSchema?(&w)
                }
            }
            w.int(3, numRows, type: ThriftWriter.i64)
            w.listHeader(4, of: ThriftWriter.structure, count: 1)
            w.element { w in
                w.listHeader(1, of: ThriftWriter.structure, count: chunks.count)
                for (chunk, meta) in zip(chunks, metas) {
                    w.element { w in
                        w.int(2, 0, type: ThriftWriter.i64)
                        w.structure(3) { w in
                            w.int(1, chunk.type)
                            w.listHeader(2, of: ThriftWriter.i32, count: 2)
                            w.zigzag(0)
                            w.zigzag(3)
                            w.listHeader(3, of: ThriftWriter.binary, count: chunk.path.count)
                            for part in chunk.path {
                                w.varint(UInt64(part.utf8.count))
                                w.raw(Array(part.utf8))
                            }
                            w.int(4, chunk.codec)
                            w.int(5, chunk.numValues, type: ThriftWriter.i64)
                            w.int(6, meta.size, type: ThriftWriter.i64)
                            w.int(7, meta.size, type: ThriftWriter.i64)
                            w.int(9, meta.offset + offsetShift, type: ThriftWriter.i64)
                            if let dictionary = meta.dictionary { w.int(11, dictionary, type: ThriftWriter.i64) }
                            extraColumnMeta?(&w)
                        }
                    }
                }
                w.int(2, metas.reduce(0) { $0 + $1.size }, type: ThriftWriter.i64)
                w.int(3, numRows, type: ThriftWriter.i64)
            }
            extraFooter?(&w)
        }
        file += w.bytes
        withUnsafeBytes(of: UInt32(w.bytes.count).littleEndian) { file += $0 }
        file += Array("PAR1".utf8)
        return file
    }

    /// Writes the file under a fresh temporary directory and returns its path.
    func write(_ name: String = "crafted.parquet") throws -> String {
        try writeTemporary(bytes(), name)
    }
}

/// This process's folder for crafted and mutated files (removed by `removeTemporaryFiles`).
let temporaryFolder = FileManager.default.temporaryDirectory.appendingPathComponent("parquet-tests-\(getpid())")

/// Writes `bytes` to a file in `temporaryFolder` and returns its path.
func writeTemporary(_ bytes: [UInt8], _ name: String) throws -> String {
    try FileManager.default.createDirectory(at: temporaryFolder, withIntermediateDirectories: true)
    let url = temporaryFolder.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

func removeTemporaryFiles() {
    try? FileManager.default.removeItem(at: temporaryFolder)
}

/// A flat schema: the root and one column of `type`, `repetition` (0 required, 1 optional).
func flatSchema(_ name: String, type: Int64, repetition: Int64) -> [CraftedElement] {
    [CraftedElement(name: "schema", children: 1), CraftedElement(name: name, type: type, repetition: repetition)]
}

/// PLAIN little-endian INT32 values.
func plainInt32(_ values: [Int32]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

/// A v1 definition-level section: the 4-byte length, then the RLE bytes.
func levelSection(_ rle: [UInt8]) -> [UInt8] {
    withUnsafeBytes(of: UInt32(rle.count).littleEndian) { Array($0) } + rle
}

/// The kind and reason of a ParquetError, for assertions.
extension ParquetError {
    var kind: String {
        switch self {
        case .io: return "io"
        case .notParquet: return "notParquet"
        case .malformed: return "malformed"
        case .unsupported: return "unsupported"
        case .limitExceeded: return "limitExceeded"
        case .noSuchColumn: return "noSuchColumn"
        case .noSuchRowGroup: return "noSuchRowGroup"
        }
    }
}

/// Asserts that `body` throws a ParquetError of `kind` whose message contains `text`.
func assertParquetError(_ kind: String, _ text: String, file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("no error (expected \(kind): \(text))", file: file, line: line)
    } catch let error as ParquetError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertTrue(error.description.contains(text), "'\(error)' does not say '\(text)'", file: file, line: line)
    } catch {
        XCTFail("untyped error \(error)", file: file, line: line)
    }
}

/// Reads every row group and assembles every row of the file at `path`.
func readEverything(_ path: String, limits: ParquetReadLimits = ParquetReadLimits()) throws -> [ParquetValue] {
    try readAllRows(ParquetFile(path: path, limits: limits))
}
