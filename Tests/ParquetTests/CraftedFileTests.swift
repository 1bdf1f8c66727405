import Foundation
import Parquet
import XCTest

/// Files crafted byte by byte: what pyarrow does not write (unknown Thrift fields, legacy two-level lists,
/// unsupported features) and malformed or absurd declarations, each with the value or typed error expected.
final class CraftedFileTests: XCTestCase {
    override class func tearDown() {
        removeTemporaryFiles()
        super.tearDown()
    }

    private func row(_ name: String, _ value: ParquetValue) -> ParquetValue { .record([ParquetField(name: name, value: value)]) }

    private func int32Column(pages: [CraftedPage], numValues: Int64 = 3, codec: Int64 = 0) -> CraftedParquet {
        CraftedParquet(schema: flatSchema("x", type: 1, repetition: 0), numRows: 3,
                       chunks: [(["x"], 1, codec, numValues, pages)])
    }

    func testCraftedPlainColumnReads() throws {
        let file = int32Column(pages: [CraftedPage(numValues: 3, body: plainInt32([1, -2, 3]))])
        XCTAssertEqual(try readEverything(file.write()), [1, -2, 3].map { row("x", .int32($0)) })
    }

    /// Fields the reader does not know, of every Thrift type and in every struct it reads, are skipped.
    func testUnknownThriftFieldsAreSkipped() throws {
        var file = int32Column(pages: [CraftedPage(numValues: 3, body: plainInt32([7, 8, 9]), extraHeader: { w in
            w.structure(9) { w in
                w.listHeader(1, of: ThriftWriter.structure, count: 1)
                w.element { w in w.int(1, 3) }
            }
        })])
        file.extraFooter = { w in
            w.listHeader(20, of: ThriftWriter.structure, count: 2)
            w.element { w in
                w.string(1, "skip me")
                w.field(2, ThriftWriter.map)
                w.varint(2)
                w.raw([ThriftWriter.i32 << 4 | ThriftWriter.binary])
                w.zigzag(1)
                w.varint(1)
                w.raw([0x41])
                w.zigzag(2)
                w.varint(0)
            }
            w.element { w in
                w.field(1, ThriftWriter.double)
                w.raw([UInt8](repeating: 0x40, count: 8))
                w.flag(2, true)
                w.listHeader(3, of: ThriftWriter.bool, count: 3)
                w.raw([1, 2, 1])
            }
            w.int(300, -7, type: ThriftWriter.i64)
            w.structure(301) { w in
                w.listHeader(1, of: ThriftWriter.list, count: 1)
                w.raw([0x10 | ThriftWriter.i32])
                w.zigzag(5)
            }
        }
        file.extraColumnMeta = { w in
            w.structure(40) { w in
                w.string(1, "x")
                w.structure(2) { w in w.flag(1, false) }
            }
        }
        file.extraSchema = { w in w.int(40, 12) }
        XCTAssertEqual(try readEverything(file.write()), [7, 8, 9].map { row("x", .int32($0)) })
    }

    /// `optional group a (LIST) { repeated int32 array; }`, rows [1, 2], [], null.
    func testLegacyTwoLevelList() throws {
        let schema = [
            CraftedElement(name: "schema", children: 1),
            CraftedElement(name: "a", repetition: 1, children: 1, converted: 3),
            CraftedElement(name: "array", type: 1, repetition: 2),
        ]
        // Repetition levels [0, 1, 0, 0] and definition levels [2, 2, 1, 0], each one bit-packed group.
        let body = levelSection([0x03, 0x02]) + levelSection([0x03, 0x1a, 0x00]) + plainInt32([1, 2])
        let file = CraftedParquet(schema: schema, numRows: 3, chunks: [(["a", "array"], 1, 0, 4, [CraftedPage(numValues: 4, body: body)])])
        XCTAssertEqual(try readEverything(file.write()), [
            row("a", .list([.int32(1), .int32(2)])), row("a", .list([])), row("a", .null),
        ])
    }

    func testDeeplyNestedThriftIsAnError() throws {
        var file = int32Column(pages: [CraftedPage(numValues: 3, body: plainInt32([1, 2, 3]))])
        file.extraFooter = { w in
            w.field(20, ThriftWriter.structure)
            w.raw([UInt8](repeating: 0x10 | ThriftWriter.structure, count: 5000))
            w.raw([UInt8](repeating: 0, count: 5001))
        }
        assertParquetError("malformed", "nested deeper") { _ = try readEverything(file.write()) }
    }

    func testUnsupportedFeaturesAreNamed() throws {
        let nullable = CraftedParquet(schema: flatSchema("x", type: 1, repetition: 1), numRows: 3, chunks: [(["x"], 1, 0, 3, [
            CraftedPage(numValues: 3, definitionEncoding: 4, body: [0x07] + plainInt32([1, 2, 3])),
        ])])
        assertParquetError("unsupported", "definition levels encoded BIT_PACKED") { _ = try readEverything(nullable.write()) }
        let lz4 = int32Column(pages: [CraftedPage(numValues: 3, body: plainInt32([1, 2, 3]))], codec: 7)
        assertParquetError("unsupported", "LZ4_RAW") { _ = try readEverything(lz4.write()) }
        let encoding = int32Column(pages: [CraftedPage(numValues: 3, encoding: 6, body: plainInt32([1, 2, 3]))])
        assertParquetError("unsupported", "DELTA_LENGTH_BYTE_ARRAY for INT32") { _ = try readEverything(encoding.write()) }
    }

    /// A few bytes can declare two billion nulls (one RLE run): the reader refuses before allocating the
    /// levels (4 GB) rather than after, and the process's peak memory does not grow by anything like it.
    func testHugeValueCountIsRefusedBeforeAllocating() throws {
        let count: Int64 = 2_000_000_000
        var run = ThriftWriter()
        run.varint(UInt64(count) << 1)
        let file = CraftedParquet(schema: flatSchema("x", type: 2, repetition: 1), numRows: count,
                                  chunks: [(["x"], 2, 0, count, [CraftedPage(numValues: count, body: levelSection(run.bytes + [0]))])])
        let path = try file.write()
        let before = peakResidentBytes()
        assertParquetError("limitExceeded", "levels of 2000000000 entries") { _ = try ParquetFile(path: path).readRowGroup(0) }
        XCTAssertLessThan(peakResidentBytes() - before, 256 << 20)
    }

    /// `ParquetReadLimits.maxColumnChunkBytes` decides: a million nulls (2 MB of levels) fail under 1 MiB
    /// and read under 4 MiB.
    func testReadLimitIsHonoured() throws {
        var run = ThriftWriter()
        run.varint(1_000_000 << 1)
        let file = CraftedParquet(schema: flatSchema("x", type: 2, repetition: 1), numRows: 1_000_000,
                                  chunks: [(["x"], 2, 0, 1_000_000, [CraftedPage(numValues: 1_000_000, body: levelSection(run.bytes + [0]))])])
        let path = try file.write()
        assertParquetError("limitExceeded", "maxColumnChunkBytes") {
            _ = try ParquetFile(path: path, limits: ParquetReadLimits(maxColumnChunkBytes: 1 << 20)).readRowGroup(0)
        }
        let column = try XCTUnwrap(ParquetFile(path: path, limits: ParquetReadLimits(maxColumnChunkBytes: 4 << 20)).readRowGroup(0).columns.first)
        XCTAssertEqual(column.count, 1_000_000)
        XCTAssertEqual(column.values.count, 0)
        XCTAssertEqual(column.definitionLevels.max(), 0)
    }

    /// Declared page sizes are checked against what the compressed bytes can hold before any buffer is made.
    func testDeclaredPageSizesAreChecked() throws {
        let huge = int32Column(pages: [CraftedPage(numValues: 3, body: [0x03, 0x08, 0x61, 0x62, 0x63], uncompressedSize: Int64(Int32.max))], codec: 1)
        assertParquetError("limitExceeded", "page declares 2147483647 bytes") { _ = try readEverything(huge.write()) }
        let snappy = int32Column(pages: [CraftedPage(numValues: 3, body: [0x03, 0x08, 0x61, 0x62, 0x63], uncompressedSize: 100_000_000)], codec: 1)
        assertParquetError("malformed", "snappy stream holds 3 bytes, the page header declares 100000000") { _ = try readEverything(snappy.write()) }
        let gzip = int32Column(pages: [CraftedPage(numValues: 3, body: [UInt8](repeating: 0, count: 20), uncompressedSize: 100_000_000)], codec: 2)
        assertParquetError("malformed", "cannot expand to the declared 100000000 bytes") { _ = try readEverything(gzip.write()) }
        let plain = int32Column(pages: [CraftedPage(numValues: 3, body: plainInt32([1, 2, 3]), uncompressedSize: 1000)])
        assertParquetError("malformed", "stores 12 bytes but declares 1000") { _ = try readEverything(plain.write()) }
        let beyond = int32Column(pages: [CraftedPage(numValues: 3, body: plainInt32([1, 2, 3]), compressedSize: 1000)])
        assertParquetError("malformed", "page of 1000 bytes needs 1000 bytes, only 12 left") { _ = try readEverything(beyond.write()) }
        var moved = int32Column(pages: [CraftedPage(numValues: 3, body: plainInt32([1, 2, 3]))])
        moved.offsetShift = 100_000
        assertParquetError("malformed", "lies outside the file's data") { _ = try readEverything(moved.write()) }
        let short = int32Column(pages: [CraftedPage(numValues: 3, body: plainInt32([1, 2]))])
        assertParquetError("malformed", "3 PLAIN INT32 values in 8 bytes") { _ = try readEverything(short.write()) }
        let tooMany = int32Column(pages: [CraftedPage(numValues: 4, body: plainInt32([1, 2, 3, 4]))])
        assertParquetError("malformed", "page declares 4 values, 3 of the chunk's 3 are left") { _ = try readEverything(tooMany.write()) }
    }

    /// INT32 values 1, 2, 3 compressed by Python's gzip and pyarrow's snappy and zstd codecs: they read
    /// when their size is declared right, and a stream that would expand past its declared size, or falls
    /// short of it, or is corrupt, is an error.
    func testCompressedPagesMustMatchTheirDeclaredSize() throws {
        let gzip: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 99, 100, 96, 96, 96, 2, 98, 102, 32, 6, 0, 147, 34, 224, 176, 12, 0, 0, 0]
        let snappy: [UInt8] = [12, 44, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]
        let zstd: [UInt8] = [40, 181, 47, 253, 32, 12, 97, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]
        for (codec, body) in [(Int64(2), gzip), (1, snappy), (6, zstd)] {
            let good = int32Column(pages: [CraftedPage(numValues: 3, body: body, uncompressedSize: 12)], codec: codec)
            XCTAssertEqual(try readEverything(good.write()), [1, 2, 3].map { row("x", .int32($0)) }, "codec \(codec)")
        }
        let over = int32Column(pages: [CraftedPage(numValues: 3, body: gzip, uncompressedSize: 8)], codec: 2)
        assertParquetError("malformed", "gzip data expands past the declared 8 bytes") { _ = try readEverything(over.write()) }
        let under = int32Column(pages: [CraftedPage(numValues: 3, body: gzip, uncompressedSize: 16)], codec: 2)
        assertParquetError("malformed", "gzip data decompresses to 12 bytes, 16 declared") { _ = try readEverything(under.write()) }
        let zstdOver = int32Column(pages: [CraftedPage(numValues: 3, body: zstd, uncompressedSize: 8)], codec: 6)
        assertParquetError("malformed", "zstd frame holds 12 bytes, the page header declares 8") { _ = try readEverything(zstdOver.write()) }
        var corrupt = snappy
        corrupt[1] = 0xff
        let bad = int32Column(pages: [CraftedPage(numValues: 3, body: corrupt, uncompressedSize: 12)], codec: 1)
        assertParquetError("malformed", "snappy data is corrupt") { _ = try readEverything(bad.write()) }
    }

    func testDictionaryIndices() throws {
        let dictionary = CraftedPage(type: 2, numValues: 2, body: plainInt32([10, 20]))
        // Bit width 2, then one bit-packed group of indices [0, 1, 1] (or [0, 1, 3]).
        let good = int32Column(pages: [dictionary, CraftedPage(numValues: 3, encoding: 8, body: [0x02, 0x03, 0x14, 0x00])])
        XCTAssertEqual(try readEverything(good.write()), [10, 20, 20].map { row("x", .int32($0)) })
        let bad = int32Column(pages: [dictionary, CraftedPage(numValues: 3, encoding: 8, body: [0x02, 0x03, 0x34, 0x00])])
        assertParquetError("malformed", "dictionary index 3 out of range (dictionary of 2)") { _ = try readEverything(bad.write()) }
        let missing = int32Column(pages: [CraftedPage(numValues: 3, encoding: 8, body: [0x02, 0x03, 0x14, 0x00])])
        assertParquetError("malformed", "RLE_DICTIONARY page without a dictionary page") { _ = try readEverything(missing.write()) }
        let wide = int32Column(pages: [dictionary, CraftedPage(numValues: 3, encoding: 8, body: [33, 0x03, 0x14, 0x00])])
        assertParquetError("malformed", "dictionary index bit width 33") { _ = try readEverything(wide.write()) }
    }

    func testLevelsAboveTheirMaximumAreErrors() throws {
        let schema = [
            CraftedElement(name: "schema", children: 1),
            CraftedElement(name: "g", repetition: 1, children: 1),
            CraftedElement(name: "v", type: 1, repetition: 1),
        ]
        // One RLE run of three definition levels 3, where the maximum is 2.
        let file = CraftedParquet(schema: schema, numRows: 3, chunks: [(["g", "v"], 1, 0, 3, [CraftedPage(numValues: 3, body: levelSection([0x06, 0x03]))])])
        assertParquetError("malformed", "definition level 3 exceeds the column's maximum 2") { _ = try readEverything(file.write()) }
        let path = try file.write()
        assertParquetError("malformed", "row group 0, column 'g.v', page 0") { _ = try readEverything(path) }
    }

    // MARK: whole-file damage

    func testBadFilesAreTypedErrors() throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: ParquetFixtures.path("types_dict_snappy_v1"))))
        func variant(_ name: String, _ change: (inout [UInt8]) -> Void) throws -> String {
            var bytes = original
            change(&bytes)
            return try writeTemporary(bytes, name)
        }
        func setFooterLength(_ bytes: inout [UInt8], _ length: UInt32) {
            withUnsafeBytes(of: length.littleEndian) { bytes.replaceSubrange((bytes.count - 8)..<(bytes.count - 4), with: $0) }
        }
        assertParquetError("notParquet", "no PAR1 magic") { _ = try ParquetFile(path: variant("magic.parquet") { $0[3] = 0x32 }) }
        assertParquetError("notParquet", "no PAR1 magic") { _ = try ParquetFile(path: variant("half.parquet") { $0.removeLast($0.count / 2) }) }
        assertParquetError("notParquet", "8 bytes, too small") { _ = try ParquetFile(path: variant("tiny.parquet") { $0.removeLast($0.count - 8) }) }
        assertParquetError("notParquet", "0 bytes, too small") { _ = try ParquetFile(path: variant("empty.parquet") { $0 = [] }) }
        assertParquetError("malformed", "footer of 4294967295 bytes is larger than the file allows") {
            _ = try ParquetFile(path: variant("footer.parquet") { setFooterLength(&$0, .max) })
        }
        assertParquetError("malformed", "footer") { _ = try ParquetFile(path: variant("short-footer.parquet") { setFooterLength(&$0, 40) }) }
        assertParquetError("unsupported", "encrypted footer") {
            _ = try ParquetFile(path: variant("encrypted.parquet") { $0.replaceSubrange(($0.count - 4)..., with: Array("PARE".utf8)) })
        }
        assertParquetError("io", "No such file") { _ = try ParquetFile(path: ParquetFixtures.path("no-such-file")) }
        assertParquetError("io", "not a regular file") { _ = try ParquetFile(path: ParquetFixtures.directory.path) }
    }
}

/// The process's peak resident memory so far, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024 // kilobytes on Linux
}
