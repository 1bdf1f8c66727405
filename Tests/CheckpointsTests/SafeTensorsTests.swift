import Checkpoints
import Foundation
import Tensor
import XCTest
import TestSupport

let checkpointFixtures = Fixtures.path("models")

final class HalfPrecisionTests: XCTestCase {
    /// Every half bit pattern converts as Swift's own Float16 does.
    func testAllHalfBitPatternsAgainstFloat16() {
        #if arch(x86_64) || arch(arm64)
        for bits in 0...UInt16.max {
            let ours = floatFromHalfBits(bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN { XCTAssertTrue(ours.isNaN); continue }
            XCTAssertEqual(ours.bitPattern, reference.bitPattern, "half bits \(bits)")
        }
        #endif
    }

    /// Float → half rounding agrees with Float16(Float) (round to nearest even) on many values, incl. subnormals.
    func testFloatToHalfRoundingAgainstFloat16() {
        #if arch(x86_64) || arch(arm64)
        var state: UInt32 = 12345
        for _ in 0..<200_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            let f = Float(bitPattern: (state & 0x807F_FFFF) | (UInt32(100 + (state >> 24) % 50) << 23))
            XCTAssertEqual(halfBitsFromFloat(f), Float16(f).bitPattern, "\(f)")
        }
        for f: Float in [0, -0, 65504, 65519, 65520, 1e-8, 6e-8, 5.96e-8, 3e-8, -2.98e-8] {
            XCTAssertEqual(halfBitsFromFloat(f), Float16(f).bitPattern, "\(f)")
        }
        #endif
    }

    /// bfloat16 rounding agrees with PyTorch's: the BF16 fixture holds the F32 fixture's weights rounded by torch.
    func testBFloat16RoundingAgainstTorchFixture() throws {
        let f32 = try SafeTensorsFile(path: checkpointFixtures + "/vit-small-f32/model.safetensors")
        let bf16 = try SafeTensorsFile(path: checkpointFixtures + "/vit-small-bf16/model.safetensors")
        XCTAssertEqual(Set(f32.names), Set(bf16.names))
        for name in f32.names {
            let full = try f32.tensor(name).data, rounded = try bf16.tensor(name).data
            for (a, b) in zip(full, rounded) {
                XCTAssertEqual(Float(bitPattern: UInt32(bfloat16BitsFromFloat(a)) << 16), b, name)
            }
        }
    }
}

final class SafeTensorsTests: XCTestCase {
    private var tmp: String!

    override func setUp() {
        tmp = NSTemporaryDirectory() + "/safetensors-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: tmp) }

    func testReadsHeaderOfPythonWrittenFile() throws {
        let file = try SafeTensorsFile(path: checkpointFixtures + "/vit-small-f32/model.safetensors")
        XCTAssertEqual(file.entries["embeddings.position_embeddings"]?.shape, [1, 197, 64])
        XCTAssertEqual(file.entries["embeddings.patch_embeddings.projection.weight"]?.dtype, "F32")
    }

    func testWriterOutputReadsBackBitIdentically() throws {
        let source = try SafeTensorsFile(path: checkpointFixtures + "/vit-small-f32/model.safetensors")
        let tensors = try source.names.map { (name: $0, tensor: try source.tensor($0)) }
        let path = tmp + "/copy.safetensors"
        try SafeTensorsWriter.write(tensors, to: path, metadata: ["format": "pt"])
        let copy = try SafeTensorsFile(path: path)
        XCTAssertEqual(copy.metadata["format"], "pt")
        for (name, tensor) in tensors { XCTAssertEqual(try copy.tensor(name), tensor, name) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp-\(getpid())"))
    }

    func testTruncatedFileIsAClearError() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: checkpointFixtures + "/vit-small-f32/model.safetensors"))
        let path = tmp + "/truncated.safetensors"
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafeTensorsFile(path: path)) { error in
            XCTAssertTrue("\(error)".contains("truncated.safetensors"), "\(error)")
            XCTAssertTrue("\(error)".contains("outside"), "\(error)")
        }
    }

    func testGarbageAndEmptyFilesAreClearErrors() throws {
        for (name, bytes) in [("empty", [UInt8]()), ("garbage", [UInt8](repeating: 0xFF, count: 64)),
                              ("shortheader", [8, 0, 0, 0, 0, 0, 0, 0, 0x7B])] {
            let path = tmp + "/\(name).safetensors"
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            XCTAssertThrowsError(try SafeTensorsFile(path: path), name) { error in
                XCTAssertTrue("\(error)".contains(name), "\(error)")
            }
        }
        XCTAssertThrowsError(try SafeTensorsFile(path: tmp + "/absent.safetensors"))
    }
}

final class NpyTests: XCTestCase {
    /// The .npy files written by numpy read back with their shapes; our writer's bytes read back equal.
    func testNumpyFileRoundTrip() throws {
        let expected = try Npy.read(path: checkpointFixtures + "/vit-small-f32/expected.npy")
        XCTAssertEqual(expected.shape, [2, 197, 64])
        let path = NSTemporaryDirectory() + "/npy-\(UUID().uuidString).npy"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Npy.write(expected, to: path)
        XCTAssertEqual(try Npy.read(path: path), expected)
        // numpy pads the v1 header to a multiple of 64 bytes
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual((10 + Int(bytes[8]) + Int(bytes[9]) * 256) % 64, 0)
    }
}
