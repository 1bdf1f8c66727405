import Checkpoints
import DeepfakeCore
import Foundation
import Tensor
import XCTest

/// Hostile safetensors, .npy and joblib files built by the tests (issue 11): every size that comes from the
/// file is checked (overflow included) and refused with an error naming the file and the field; nothing traps.
final class HostileSafeTensorsTests: XCTestCase {
    private var tmp: String!

    override func setUp() {
        tmp = NSTemporaryDirectory() + "/hostile-st-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: tmp) }

    /// A file with `header` as its JSON header (length written as `length`, default the true one) and `data`.
    private func file(_ name: String, header: String, data: [UInt8] = [], length: UInt64? = nil) -> String {
        var bytes: [UInt8] = []
        let json = Array(header.utf8)
        withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian) { bytes += $0 }
        bytes += json + data
        let path = tmp + "/\(name).safetensors"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return path
    }

    /// The error opening `path`, which must name the file and contain every one of `words`.
    private func refused(_ path: String, _ words: String..., line: UInt = #line) {
        do {
            _ = try SafeTensorsFile(path: path)
            XCTFail("\(path) was accepted", line: line)
        } catch {
            XCTAssertTrue(error.description.contains(path), error.description, line: line)
            for w in words { XCTAssertTrue(error.description.contains(w), "'\(w)' not in: \(error.description)", line: line) }
        }
    }

    /// The attack run's file: a shape whose element count overflows 64 bits (it trapped with SIGILL).
    func testShapeWhoseSizeOverflowsIsRefused() {
        refused(file("overflow", header: #"{"t": {"dtype": "F32", "shape": [4611686018427387904, 4611686018427387904, 4, 1], "data_offsets": [0, 4]}}"#,
                     data: [0, 0, 0, 0]), "'t'", "shape", "overflows")
        // Overflow only in the final multiplication by the element size.
        refused(file("overflow-bytes", header: #"{"t": {"dtype": "F64", "shape": [2305843009213693952], "data_offsets": [0, 8]}}"#,
                     data: [UInt8](repeating: 0, count: 8)), "'t'", "overflows")
    }

    func testNegativeAndNonIntegerDimensionsAreRefusedClearly() {
        refused(file("negative", header: #"{"t": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                "'t'", "shape holds -1", "must not be negative")
        refused(file("fraction", header: #"{"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                "'t'", "shape holds 1.5")
        refused(file("string", header: #"{"t": {"dtype": "F32", "shape": ["1"], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                "'t'", "the string \"1\"")
        refused(file("huge", header: #"{"t": {"dtype": "F32", "shape": [18446744073709551616], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                "'t'", "18446744073709551616")
    }

    func testOverlappingFractionalAndOutOfFileOffsetsAreRefused() {
        // Two tensors sharing bytes 4..<8 (accepted before the fix).
        refused(file("overlap", header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#,
                     data: [UInt8](repeating: 0, count: 12)), "overlap")
        // Both tensors on the same bytes.
        refused(file("alias", header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#,
                     data: [0, 0, 0, 0]), "overlap")
        refused(file("fractional", header: #"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0.5, 4.5]}}"#, data: [0, 0, 0, 0, 0]),
                "data_offsets holds 0.5")
        refused(file("beyond", header: #"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [9223372036854775800, 9223372036854775804]}}"#,
                     data: [0, 0, 0, 0]), "outside")
        refused(file("hole", header: #"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                "unused")
        refused(file("trailing", header: #"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: [UInt8](repeating: 0, count: 8)),
                "4 more bytes")
    }

    func testHeaderLengthBeyondTheFileIsRefused() {
        let header = #"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#
        refused(file("length-max", header: header, data: [0, 0, 0, 0], length: UInt64.max), "header length 18446744073709551615", "does not fit")
        refused(file("length-2^63", header: header, data: [0, 0, 0, 0], length: 1 << 63), "header length 9223372036854775808")
        refused(file("length-plus-one", header: header, data: [], length: UInt64(header.utf8.count + 1)), "does not fit")
    }

    func testUnknownDTypeAndNonStringMetadataAreRefused() {
        refused(file("dtype", header: #"{"t": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]), "'Q7'")
        refused(file("metadata", header: #"{"__metadata__": {"format": 3}}"#), "__metadata__", "'format'", "not a string")
        refused(file("not-object", header: #"[1, 2]"#), "not a JSON object")
    }

    /// The reference implementation's valid layouts still open: contiguous tensors, empty tensors sharing an
    /// offset, an I64 tensor (read as unsupported only when asked for).
    func testValidLayoutsStillOpen() throws {
        let path = file("valid", header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]}, "f": {"dtype": "F16", "shape": [0], "data_offsets": [4, 4]}, "i": {"dtype": "I64", "shape": [1], "data_offsets": [4, 12]}}"#,
                        data: [0, 0, 0x80, 0x3F] + [UInt8](repeating: 0, count: 8))
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(try f.tensor("a").data, [1])
        XCTAssertEqual(try f.tensor("e").shape, [0, 3])
        XCTAssertThrowsError(try f.tensor("i")) { XCTAssertTrue("\($0)".contains("I64")) }
    }
}

final class AtomicWriteTests: XCTestCase {
    /// A link planted under the writer's temporary name is replaced, not written through.
    func testTemporaryNameLinkIsNotFollowed() throws {
        let dir = NSTemporaryDirectory() + "/atomic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = dir + "/victim", out = dir + "/out.npy"
        try "keep".write(toFile: victim, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: out + ".tmp-\(getpid())", withDestinationPath: victim)
        try Npy.write(Tensor(shape: [2], data: [1, 2]), to: out)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "keep")
        XCTAssertEqual(try Npy.read(path: out).data, [1, 2])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["out.npy", "victim"])
        try checkWritable(out)
        XCTAssertThrowsError(try checkWritable(dir + "/missing/x.npy")) { XCTAssertTrue("\($0)".contains("does not exist"), "\($0)") }
    }
}

final class HostileNpyTests: XCTestCase {
    private func npy(_ header: String, data: [UInt8]) -> String {
        var h = header
        while (10 + h.utf8.count + 1) % 64 != 0 { h += " " }
        h += "\n"
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(h.utf8.count & 0xFF), UInt8(h.utf8.count >> 8)]
        bytes += Array(h.utf8) + data
        let path = NSTemporaryDirectory() + "/hostile-\(UUID().uuidString).npy"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    private func refused(_ path: String, _ words: String..., line: UInt = #line) {
        do {
            _ = try Npy.read(path: path)
            XCTFail("accepted", line: line)
        } catch {
            XCTAssertTrue(error.description.contains(path), error.description, line: line)
            for w in words { XCTAssertTrue(error.description.contains(w), "'\(w)' not in: \(error.description)", line: line) }
        }
    }

    /// Negative dimensions were silently parsed (and trapped allocating); overflowing ones trapped too.
    func testNegativeAndOverflowingShapesAreRefused() {
        refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }", data: []), "shape")
        refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }", data: []), "overflows")
        refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data: []), "does not fit")
        refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", data: [0, 0, 0, 0]), "holds 4 bytes", "needs 12")
    }

    func testHeaderIsParsedStrictly() {
        // '<f4' in another field used to pass the dtype check.
        refused(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), 'x': '<f4'}", data: [UInt8](repeating: 0, count: 8)), "unexpected key 'x'")
        refused(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", data: [UInt8](repeating: 0, count: 8)), "'<i8'")
        refused(npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", data: [0, 0, 0, 0]), "fortran_order")
        refused(npy("{'descr': '<f4', 'shape': (1,), }", data: [0, 0, 0, 0]), "missing fortran_order")
    }

    /// A Fortran-order array is returned in C order, as numpy's `np.load` gives it.
    func testFortranOrderIsReadInCOrder() throws {
        // np.asfortranarray([[1, 2, 3], [4, 5, 6]], dtype='<f4') stores 1 4 2 5 3 6.
        var data: [UInt8] = []
        for v: Float in [1, 4, 2, 5, 3, 6] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        let t = try Npy.read(path: npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data: data))
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.data, [1, 2, 3, 4, 5, 6])
    }
}

final class HostileJoblibTests: XCTestCase {
    /// An array of 0-byte elements declared with 2^40 elements and no data: its elements would be
    /// materialised one by one (hang, then memory exhaustion) when read as strings.
    func testZeroSizeElementsCannotDeclareHugeArrays() {
        var a = PickleAssembler()
        a.ndarray(type: "U0", shape: [1 << 20, 1 << 20], raw: [])
        a.stop()
        guard let error = loadError(a.bytes) else { return XCTFail("accepted") }
        XCTAssertTrue(error.description.contains("0 bytes"), error.description)
    }

    /// A "ZF" header declaring 1 GiB over a few bytes of zlib data is refused before anything is allocated.
    func testZFHeaderLargerThanItsDataCanHoldIsRefused() {
        var bytes = Array("ZF0x40000000".utf8)
        while bytes.count < 21 { bytes.append(0x20) }
        bytes += [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]  // zlib of nothing
        do {
            _ = try Joblib.load(bytes: bytes)
            XCTFail("accepted")
        } catch {
            XCTAssertTrue(error.description.contains("1073741824"), error.description)
            XCTAssertTrue(error.description.contains("can hold"), error.description)
        }
    }
}
