// The `.npy` reader on bytes in memory, against numpy's byte layout for several dtypes and orders.

import Checkpoints
import Tensor
import XCTest

final class NpyBytesTests: XCTestCase {
    /// The .npy decoder on bytes in memory (a shard's field) against numpy's bytes for several dtypes and orders.
    func testDecodingFromBytes() throws {
        func npy(_ descr: String, _ shape: String, fortran: Bool = false, _ payload: [UInt8]) -> [UInt8] {
            var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
            while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
                + Array(header.utf8) + payload
        }
        let floats: [Float] = [1, -2.5, 3, 4, 5, 6]
        let f4 = floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        XCTAssertEqual(try Npy.decode(npy("<f4", "(2, 3)", f4), name: "a.npy").data, floats)
        let f8be = floats.flatMap { withUnsafeBytes(of: Double($0).bitPattern.bigEndian, Array.init) }
        XCTAssertEqual(try Npy.decode(npy(">f8", "(6,)", f8be), name: "a.npy").data, floats)
        XCTAssertEqual(try Npy.decode(npy("|u1", "(3,)", [0, 7, 255]), name: "a.npy").data, [0, 7, 255])
        XCTAssertEqual(try Npy.decode(npy("<i2", "(2,)", [0xFF, 0xFF, 0x02, 0x00]), name: "a.npy").data, [-1, 2])
        XCTAssertEqual(try Npy.decode(npy("<i8", "()", withUnsafeBytes(of: Int64(-7).littleEndian, Array.init)), name: "a.npy").shape, [])
        // Fortran order: column-major [[1, 2, 3], [4, 5, 6]] is stored as 1 4 2 5 3 6.
        let column: [Float] = [1, 4, 2, 5, 3, 6]
        let f4f = column.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        XCTAssertEqual(try Npy.decode(npy("<f4", "(2, 3)", fortran: true, f4f), name: "a.npy").data, [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsError(try Npy.decode(npy("<c8", "(1,)", [UInt8](repeating: 0, count: 8)), name: "a.npy"))
        XCTAssertThrowsError(try Npy.decode(npy("<f4", "(4,)", f4.prefix(8).map { $0 }), name: "a.npy"))
    }

}
