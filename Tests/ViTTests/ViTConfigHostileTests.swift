import Checkpoints
import Foundation
import ViT
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Hostile or careless config.json files next to a valid model.safetensors (issue 11): sizes are bounded and
/// compared with the tensors before anything is allocated, and every present key must hold a value of its type.
final class ViTConfigHostileTests: XCTestCase {
    private var folder: String!

    /// A copy of the vit-small-f32 fixture whose config.json has `changes` applied (nil removes the key).
    override func setUp() {
        folder = NSTemporaryDirectory() + "/vit-config-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? FileManager.default.copyItem(atPath: modelFixtures + "/vit-small-f32/model.safetensors", toPath: folder + "/model.safetensors")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    /// Writes the fixture's config with `key` set to the raw JSON text `value`, then loads the folder.
    private func load(_ key: String, _ value: String) -> Error? {
        let original = try! String(contentsOfFile: modelFixtures + "/vit-small-f32/config.json", encoding: .utf8)
        var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let i = lines.firstIndex(where: { $0.contains("\"\(key)\":") }) {
            lines[i] = "  \"\(key)\": \(value)" + (lines[i].hasSuffix(",") ? "," : "")
        } else {
            lines.insert("  \"\(key)\": \(value),", at: 1)
        }
        try! lines.joined(separator: "\n").write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        do { _ = try VisionTransformer(folder: folder); return nil } catch { return error }
    }

    private func refused(_ key: String, _ value: String, _ words: String..., line: UInt = #line) {
        guard let error = load(key, value) else { return XCTFail("\(key): \(value) was accepted", line: line) }
        let text = "\(error)"
        XCTAssertTrue(text.contains(folder + "/config.json"), text, line: line)
        for w in words { XCTAssertTrue(text.contains(w), "'\(w)' not in: \(text)", line: line) }
    }

    /// The attack run's config: 10,000,000 layers hung and climbed to 8 GB before any error.
    func testAbsurdLayerCountIsRefusedAtOnce() {
        let start = Date()
        refused("num_hidden_layers", "10000000", "num_hidden_layers", "10000000", "1024")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    /// A plausible size that disagrees with the tensors: the error names both files and both numbers.
    func testConfigThatDisagreesWithTheTensorsNamesBoth() {
        refused("num_hidden_layers", "24", "model.safetensors", "num_hidden_layers is 24", "2 blocks")
        refused("hidden_size", "128", "model.safetensors", "hidden_size is 128", "embeddings.cls_token", "says 64")
        refused("intermediate_size", "256", "model.safetensors", "intermediate_size is 256", "says 128")
        refused("image_size", "112", "model.safetensors", "50 tokens", "holds 197")
    }

    func testHugeAndMistypedSizesAreReportedAsWritten() {
        // 2^63 used to be reported as a negative number.
        refused("hidden_size", "9223372036854775808", "hidden_size", "9223372036854775808")
        XCTAssertFalse("\(load("hidden_size", "9223372036854775808")!)".contains("-9223372036854775808"))
        // A string used to be shown as if it were the number.
        refused("hidden_size", "\"192\"", "hidden_size", "not a string", "the string \"192\"")
        refused("hidden_size", "64.5", "hidden_size", "64.5")
        refused("num_attention_heads", "true", "num_attention_heads", "true")
        refused("hidden_size", "-64", "hidden_size", "from 1 to", "-64")
    }

    /// These were silently replaced by the defaults.
    func testMistypedOrNullValuesAreRefusedNotDefaulted() {
        refused("layer_norm_eps", "\"x\"", "layer_norm_eps", "a number", "the string \"x\"")
        refused("layer_norm_eps", "null", "layer_norm_eps", "null")
        refused("hidden_act", "null", "hidden_act", "null")
        refused("hidden_act", "3", "hidden_act", "3")
        refused("qkv_bias", "\"yes\"", "qkv_bias", "true or false")
        refused("qkv_bias", "1", "qkv_bias", "true or false", "found 1")
        refused("model_type", "null", "model_type", "null")
        refused("layer_norm_eps", "0", "layer_norm_eps", "positive")
    }

    /// A config.json that is a FIFO or a device used to wait for a writer or read forever; a huge one was read whole.
    func testPipesDevicesAndHugeConfigsAreRefused() throws {
        XCTAssertEqual(mkfifo(folder + "/config.json", 0o600), 0)
        do { _ = try VisionTransformer(folder: folder); XCTFail("a FIFO was accepted") } catch {
            XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
        }
        XCTAssertThrowsError(try ViTConfig(contentsOf: "/dev/zero")) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
        try FileManager.default.removeItem(atPath: folder + "/config.json")
        try (String(repeating: " ", count: ViTConfig.maxConfigBytes) + "{}").write(toFile: folder + "/config.json", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try ViTConfig(contentsOf: folder + "/config.json")) { XCTAssertTrue("\($0)".contains("more than the \(ViTConfig.maxConfigBytes)"), "\($0)") }
    }

    func testTheUnchangedCopyLoads() {
        XCTAssertNil(load("hidden_size", "64"))
    }
}
