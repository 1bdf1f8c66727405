import Detection
import Foundation
import XCTest

final class D3LayoutTests: XCTestCase {
    func temporaryFolder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("d3-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func touch(_ root: String, _ relative: String) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([0])))
    }

    func makeD3(_ root: String, skip: Set<String> = []) throws {
        for subset in ["augm", "no_augm"] {
            for folder in ["real", "gen_0", "gen_1", "gen_2", "gen_3"] where !skip.contains("\(subset)/\(folder)") {
                try touch(root, "\(subset)/\(folder)/a.png")
                try touch(root, "\(subset)/\(folder)/sub/b.JPEG")
                try touch(root, "\(subset)/\(folder)/c.d.e.WebP")  // several dots: upstream would skip it
                try touch(root, "\(subset)/\(folder)/notes.txt")
                try touch(root, "\(subset)/\(folder)/.hidden.png")
            }
        }
    }

    func testFullLayoutGivesUpstreamKeysInOrder() throws {
        let root = try temporaryFolder()
        try makeD3(root)
        let found = try D3Layout.discover(root: root)
        XCTAssertEqual(found.pairs.map(\.key), ["augm_gen0_and_real", "augm_gen_1", "augm_gen_2", "augm_gen_3",
                                                "no_augm_gen0_and_real", "no_augm_gen_1", "no_augm_gen_2", "no_augm_gen_3"])
        XCTAssertEqual(found.missingFolders, [])
        XCTAssertTrue(found.pairs[1].real.hasSuffix("augm/real"))
        XCTAssertTrue(found.pairs[1].fake.hasSuffix("augm/gen_1"))
        XCTAssertTrue(found.pairs[5].real.hasSuffix("no_augm/real"))

        let dataset = try EvaluationDataset(pairs: found.pairs)
        // 10 folders × 3 images, each listed once although each real folder serves four pairs.
        XCTAssertEqual(dataset.paths.count, 30)
        XCTAssertEqual(Set(dataset.paths).count, 30)
        XCTAssertEqual(dataset.pairs.count, 8)
        for pair in dataset.pairs {
            XCTAssertEqual(pair.realIndices.count, 3)
            XCTAssertEqual(pair.fakeIndices.count, 3)
            let realPaths = pair.realIndices.map { dataset.paths[$0] }
            XCTAssertEqual(realPaths, realPaths.sorted())
            XCTAssertTrue(realPaths.allSatisfy { $0.contains("/real/") })
            XCTAssertTrue(pair.fakeIndices.allSatisfy { !dataset.paths[$0].contains("/real/") })
            XCTAssertEqual(pair.labelledIndices.map(\.isFake), [false, false, false, true, true, true])
        }
        XCTAssertEqual(dataset.pairs[0].realIndices, dataset.pairs[3].realIndices)
        XCTAssertNotEqual(dataset.pairs[0].realIndices, dataset.pairs[4].realIndices)
        XCTAssertTrue(dataset.paths.contains { $0.hasSuffix("c.d.e.WebP") })
        XCTAssertTrue(dataset.paths.contains { $0.hasSuffix("sub/b.JPEG") })
        XCTAssertFalse(dataset.paths.contains { $0.hasSuffix(".txt") || $0.hasSuffix(".hidden.png") })
        XCTAssertEqual(dataset.inputItems.map(\.path), dataset.paths)
    }

    func testMissingFoldersAreReportedNotFatal() throws {
        let root = try temporaryFolder()
        try makeD3(root + "/d3_test", skip: ["augm/gen_2", "no_augm/real"])
        let found = try D3Layout.discover(root: root)  // finds the d3_test subfolder
        XCTAssertTrue(found.root.hasSuffix("d3_test"))
        XCTAssertEqual(found.pairs.map(\.key), ["augm_gen0_and_real", "augm_gen_1", "augm_gen_3"])
        XCTAssertEqual(found.missingFolders, ["augm/gen_2", "no_augm/real"])

        let empty = try temporaryFolder()
        XCTAssertThrowsError(try D3Layout.discover(root: empty)) { error in
            XCTAssertTrue("\(error)".contains("no D3 test pair"), "\(error)")
        }
        XCTAssertThrowsError(try D3Layout.discover(root: empty + "/nope"))
    }

    func testExplicitPairs() throws {
        let pairs = try D3Layout.explicitPairs(real: ["r1", "r2"], fake: ["f1", "f2"], names: ["first", nil])
        XCTAssertEqual(pairs, [EvaluationPair(key: "first", real: "r1", fake: "f1"), EvaluationPair(key: "pair-2", real: "r2", fake: "f2")])
        XCTAssertEqual(try D3Layout.explicitPairs(real: ["r"], fake: ["f"]).map(\.key), ["pair-1"])
        XCTAssertThrowsError(try D3Layout.explicitPairs(real: ["r1", "r2"], fake: ["f1"]))
        XCTAssertThrowsError(try D3Layout.explicitPairs(real: ["r1", "r2"], fake: ["f1", "f2"], names: ["x", "x"]))
        XCTAssertThrowsError(try D3Layout.explicitPairs(real: [], fake: []))
    }

    func testDatasetRejectsMissingFolderAndWarnsOnEmptyOne() throws {
        let root = try temporaryFolder()
        try touch(root, "real/x.png")
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        let dataset = try EvaluationDataset(pairs: [EvaluationPair(key: "k", real: root + "/real", fake: root + "/empty")])
        XCTAssertEqual(dataset.pairs[0].fakeIndices, [])
        XCTAssertEqual(dataset.warnings.count, 1)
        XCTAssertThrowsError(try EvaluationDataset(pairs: [EvaluationPair(key: "k", real: root + "/real", fake: root + "/nope")]))
        XCTAssertThrowsError(try EvaluationDataset(pairs: [EvaluationPair(key: "k", real: root + "/real", fake: root + "/real"),
                                                           EvaluationPair(key: "k", real: root + "/real", fake: root + "/real")]))
    }

    func testYAMLPairs() throws {
        let yaml = """
        # pairs for a test
        ---
        - key: augm_gen_1   # trailing comment
          real: d3/augm/real
          fake: "d3/augm/gen 1"
        -   key: 'it''s'
            real: /abs/real
            fake: ./x/./fake/
        -
          fake: f
          real: r

        """
        let pairs = try D3Layout.parsePairsYAML(yaml, baseDirectory: "/data/sets")
        XCTAssertEqual(pairs, [
            EvaluationPair(key: "augm_gen_1", real: "/data/sets/d3/augm/real", fake: "/data/sets/d3/augm/gen 1"),
            EvaluationPair(key: "it's", real: "/abs/real", fake: "/data/sets/x/fake"),
            EvaluationPair(key: "pair-3", real: "/data/sets/r", fake: "/data/sets/f"),
        ])
        let crlf = try D3Layout.parsePairsYAML("- key: a\r\n  real: r\r\n  fake: f\r\n", baseDirectory: "base")
        XCTAssertEqual(crlf, [EvaluationPair(key: "a", real: "base/r", fake: "base/f")])
    }

    func testYAMLFileIsReadRelativeToItsFolder() throws {
        let root = try temporaryFolder()
        try "- key: one\n  real: real\n  fake: fake\n".write(toFile: root + "/pairs.yaml", atomically: true, encoding: .utf8)
        let pairs = try D3Layout.loadPairsYAML(path: root + "/pairs.yaml")
        XCTAssertEqual(pairs, [EvaluationPair(key: "one", real: root + "/real", fake: root + "/fake")])
        XCTAssertThrowsError(try D3Layout.loadPairsYAML(path: root + "/missing.yaml"))
    }

    func testYAMLErrorsCarryLineNumbers() {
        let bad: [(String, Int, String)] = [
            ("pairs:\n  - key: a\n", 1, "list item"),
            ("- key: a\n  real: r\n  fake: f\n  colour: red\n", 4, "unknown field"),
            ("- key: a\n  real: r\n   fake: f\n", 3, "column"),
            ("- key: a\n  real: r\n  real: s\n  fake: f\n", 3, "twice"),
            ("- key: a\n  real: r\n", 1, "no 'fake'"),
            ("- key: a\n  real: [r]\n  fake: f\n", 2, "unsupported"),
            ("- key: a\n  real: \"r\n  fake: f\n", 2, "unterminated"),
            ("- key: a\n  real:\n    - r\n  fake: f\n", 2, "no value"),
            ("- key: a\n  real: r\n  fake: f\n- key: a\n  real: r\n  fake: f\n", 4, "already used"),
            ("- key: a\n\treal: r\n", 2, "tab"),
            ("# only a comment\n", 0, "no pairs"),
            ("- key: a: b\n  real: r\n  fake: f\n", 1, "quote it"),
            ("- key: a\n  real: ~\n  fake: f\n", 2, "null"),
            (" - key: a\n   real: r\n   fake: f\n- key: b\n  real: r\n  fake: f\n", 4, "column"),
            ("- key: a\n  real: \"r\\q\"\n  fake: f\n", 2, "escape"),
            ("- key: a\n  real: 'r' x\n  fake: f\n", 2, "after the quoted"),
        ]
        for (text, line, fragment) in bad {
            XCTAssertThrowsError(try D3Layout.parsePairsYAML(text, baseDirectory: ".", fileName: "p.yaml"), text) { error in
                let e = error as! EvaluationInputError
                XCTAssertEqual(e.line, line == 0 ? nil : line, "\(text) -> \(e)")
                if line > 0 { XCTAssertTrue(e.description.hasPrefix("p.yaml:\(line): "), e.description) }
                XCTAssertTrue(e.description.contains(fragment), "\(text) -> \(e)")
            }
        }
    }
}
