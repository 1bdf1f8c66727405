import Foundation
import Parquet
import DeepfakeCore
import XCTest

/// Thousands of damaged copies of the fixtures (bit flips, truncations, overwritten lengths and counts,
/// zeroed ranges; seeded, so every run tries the same files): each reads to values or gives a ParquetError
/// naming the file, and never crashes or hangs.
final class ParquetCorruptionTests: XCTestCase {
    override class func tearDown() {
        removeTemporaryFiles()
        super.tearDown()
    }

    private static let fixtures = ["types_dict_snappy_v1", "types_plain_none_v1", "types_delta_zstd_v2",
                                   "nested_plain_zstd_v2", "nested_delta_gzip_v2", "hf_images"]
    private static let mutationsPerFixture = 500

    func testMutatedFilesGiveValuesOrTypedErrors() throws {
        var rng = SplitMix64(seed: 0x5eed_0013)
        var errors: [String: Int] = [:]
        var reads = 0
        for name in Self.fixtures {
            let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: ParquetFixtures.path(name))))
            for i in 0..<Self.mutationsPerFixture {
                let bytes = mutate(original, &rng)
                let path = try writeTemporary(bytes, "mutated-\(name)-\(i).parquet")
                defer { try? FileManager.default.removeItem(atPath: path) }
                do {
                    _ = try readEverything(path)
                    reads += 1
                } catch let error as ParquetError {
                    XCTAssertTrue(error.description.hasPrefix(path), "\(error)")
                    errors[error.kind, default: 0] += 1
                } catch {
                    XCTFail("\(name) mutation \(i): untyped error \(error)")
                }
            }
        }
        let total = errors.values.reduce(0, +)
        XCTAssertEqual(total + reads, Self.fixtures.count * Self.mutationsPerFixture)
        // Both outcomes occur, and the errors are of the file's kinds (never io, nor a missing column).
        XCTAssertGreaterThan(total, Self.fixtures.count * Self.mutationsPerFixture / 4)
        XCTAssertGreaterThan(reads, 50)
        XCTAssertEqual(Set(errors.keys).subtracting(["notParquet", "malformed", "unsupported", "limitExceeded"]), [])
        print("corruption: \(reads) mutated files read, errors by kind: \(errors.sorted { $0.key < $1.key })")
    }

    /// One random damage: most often in the footer, where sizes and offsets live.
    private func mutate(_ original: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = original
        let footerLength = Int(bytes[(bytes.count - 8)..<(bytes.count - 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        let footerStart = bytes.count - 8 - footerLength
        func position() -> Int {
            rng.next() % 2 == 0 ? footerStart + rng.below(footerLength) : rng.below(bytes.count)
        }
        switch rng.below(6) {
        case 0: // flip 1 to 4 bits
            for _ in 0...rng.below(4) { bytes[position()] ^= UInt8(1) << UInt8(rng.below(8)) }
        case 1: // truncate
            bytes.removeLast(1 + rng.below(bytes.count - 1))
        case 2: // overwrite 4 bytes with an extreme value
            let values: [UInt32] = [0, 1, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000, UInt32(truncatingIfNeeded: rng.next())]
            let at = min(position(), bytes.count - 4)
            withUnsafeBytes(of: values[rng.below(values.count)].littleEndian) { bytes.replaceSubrange(at..<(at + 4), with: $0) }
        case 3: // a long varint (a huge size or count) in the footer
            let at = min(footerStart + rng.below(footerLength), bytes.count - 13)
            bytes.replaceSubrange(at..<(at + 5), with: [0xff, 0xff, 0xff, 0xff, 0x0f])
        case 4: // the footer length
            let length = [UInt32(footerLength + 1 + rng.below(100)), UInt32(rng.below(footerLength)), .max][rng.below(3)]
            withUnsafeBytes(of: length.littleEndian) { bytes.replaceSubrange((bytes.count - 8)..<(bytes.count - 4), with: $0) }
        default: // zero a range
            let at = position()
            let end = min(bytes.count, at + 1 + rng.below(64))
            bytes.replaceSubrange(at..<end, with: repeatElement(0, count: end - at))
        }
        return bytes
    }
}

private extension SplitMix64 {
    /// A number in 0..<bound, or 0 when bound is not positive.
    mutating func below(_ bound: Int) -> Int { bound > 0 ? uniformIndex(below: bound) : 0 }
}
