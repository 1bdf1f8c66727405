import Foundation
import DeepfakeCore
import WebDataset
import XCTest
import TestSupport

/// Tests/Fixtures/webdataset (written by tools/reference/make_webdataset_fixtures.py and, for swift_written/ and
/// encode/swift_*, by SwiftWrittenFixtureTests with WDS_WRITE_FIXTURES=1).
let wdsFixtures = Fixtures.url("webdataset")

/// Upstream's sample shard (Tests/Fixtures/upstream/README.md).
let upstreamShard = Fixtures.path("upstream/elsa_v2-0000.tar")

func sha256Hex(_ bytes: [UInt8]) -> String { SHA256.hex(of: bytes) }

func loadJSON(_ relative: String) throws -> [String: Any] {
    let data = try Data(contentsOf: wdsFixtures.appendingPathComponent(relative))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

func fixturePath(_ relative: String) -> String { wdsFixtures.appendingPathComponent(relative).path }

/// Reads every sample of an in-memory archive, or the error that ended it.
func readSamples(_ bytes: [UInt8], name: String = "mem.tar", options: ShardReadOptions = .init(),
                 maxReadSize: Int = .max) -> (samples: [Sample], error: WebDatasetError?, report: ShardReport) {
    let tar = TarReader(stream: MemoryByteStream(bytes, name: name, maxReadSize: maxReadSize), shard: name)
    let reader = ShardSampleReader(tar: tar, shard: name, options: options)
    var samples: [Sample] = []
    do {
        while let sample = try reader.next() { samples.append(sample) }
        return (samples, nil, reader.report)
    } catch {
        return (samples, error, reader.report)
    }
}

/// Reads every member of an in-memory archive, or the error that ended it.
func readMembers(_ bytes: [UInt8], maxReadSize: Int = .max) -> (members: [TarMember], error: WebDatasetError?) {
    let reader = TarReader(stream: MemoryByteStream(bytes, name: "mem.tar", maxReadSize: maxReadSize))
    var members: [TarMember] = []
    do {
        while let member = try reader.next() { members.append(member) }
        return (members, nil)
    } catch {
        return (members, error)
    }
}

/// An archive built with the Swift writer (PAX format, fixed options).
func makeArchive(_ samples: [Sample], options: TarWriterOptions = .init()) throws -> [UInt8] {
    let writer = TarWriter(options: options)
    for sample in samples { try writer.write(sample) }
    try writer.finish()
    return writer.archiveBytes
}

/// A simple deterministic sample.
func testSample(_ index: Int, key: String? = nil, fields: [String] = ["cls", "jpg", "txt"], size: Int = 700) -> Sample {
    Sample(key: key ?? String(format: "d/sample_%04d", index), shard: "",
           fields: fields.enumerated().map { offset, name in
               (name: name, bytes: (0..<(size + offset * 37)).map { UInt8(truncatingIfNeeded: $0 * 31 + index * 7 + offset) })
           })
}

/// The formula image of tools/reference/make_webdataset_fixtures.py (`formula_image`).
func formulaImagePixels(width: Int, height: Int, salt: Int = 0) -> [UInt8] {
    var pixels: [UInt8] = []
    pixels.reserveCapacity(width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            pixels.append(UInt8((x * 255) / max(1, width - 1)))
            pixels.append(UInt8((y * 255) / max(1, height - 1)))
            pixels.append(UInt8((x * y * 7 + x * 13 + salt * 31) % 256))
        }
    }
    return pixels
}

/// A raw 512-byte header block with a valid checksum (for hand-made archives).
func rawHeader(name: String, size: Int = 0, typeFlag: UInt8 = UInt8(ascii: "0"), magic: [UInt8]? = Array("ustar\u{0}00".utf8),
               sizeField: [UInt8]? = nil, prefix: String = "", mtime: Int = 0, linkName: String = "") -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    func put(_ text: String, _ offset: Int, _ length: Int) {
        for (index, byte) in text.utf8.prefix(length).enumerated() { block[offset + index] = byte }
    }
    func octal(_ value: Int, _ offset: Int, _ length: Int) {
        put(String(repeating: "0", count: max(0, length - 1 - String(value, radix: 8).count)) + String(value, radix: 8), offset, length - 1)
    }
    put(name, 0, 100)
    octal(0o644, 100, 8)
    octal(0, 108, 8)
    octal(0, 116, 8)
    if let sizeField { for (index, byte) in sizeField.enumerated() { block[124 + index] = byte } } else { octal(size, 124, 12) }
    octal(mtime, 136, 12)
    block[156] = typeFlag
    put(linkName, 157, 100)
    if let magic { for (index, byte) in magic.enumerated() { block[257 + index] = byte } }
    put(prefix, 345, 155)
    setChecksum(&block)
    return block
}

/// Recomputes a header block's checksum field (unsigned sum, tarfile's layout).
func setChecksum(_ block: inout [UInt8]) {
    for index in 148..<156 { block[index] = 0x20 }
    let sum = block.reduce(0) { $0 + Int($1) }
    let text = String(sum, radix: 8)
    let padded = String(repeating: "0", count: 6 - text.count) + text
    for (index, byte) in padded.utf8.enumerated() { block[148 + index] = byte }
    block[154] = 0
}

/// `data` followed by zeros up to a multiple of 512.
func padded(_ data: [UInt8]) -> [UInt8] { data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512) }

/// A PAX record "LEN key=value\n".
func paxRecord(_ key: String, _ value: String) -> String {
    let base = key.utf8.count + value.utf8.count + 3
    var length = base + 1
    while base + String(length).count != length { length = base + String(length).count }
    return "\(length) \(key)=\(value)\n"
}
