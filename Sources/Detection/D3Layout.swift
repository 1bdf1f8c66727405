import DeepfakeCore
import Foundation
import Yams

/// One evaluation: a folder of real images against a folder of fake images, under a key that names it in
/// reports (upstream's `dataset_path["key"]`).
public struct EvaluationPair: Sendable, Equatable {
    /// The name in reports.
    public var key: String
    /// Folder (or single image) of real images.
    public var real: String
    /// Folder (or single image) of fake images.
    public var fake: String

    /// A pair from its key and folders.
    public init(key: String, real: String, fake: String) {
        self.key = key; self.real = real; self.fake = fake
    }
}

/// Why the pairs to evaluate could not be set up; `description` is the message users see (YAML errors
/// start with `file:line:`).
public struct EvaluationInputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message.
    public let description: String
    /// The 1-based line of a YAML error, nil otherwise.
    public let line: Int?

    /// An error with its message and, for YAML, its line.
    public init(_ description: String, line: Int? = nil) {
        self.description = description; self.line = line
    }
}

/// What `D3Layout.discover(root:)` found.
public struct D3Discovery: Sendable, Equatable {
    /// The pairs whose two folders both exist, in upstream's order.
    public let pairs: [EvaluationPair]
    /// Expected folders that are absent, relative to the root (e.g. `augm/gen_2`, or `no_augm` when the
    /// whole subset is); not fatal.
    public let missingFolders: [String]
    /// The folder the layout was found in (the root itself, or its `d3_test` subfolder).
    public let root: String
}

/// Ways to name the pairs to evaluate: the D3 test layout, explicit folder pairs, or a YAML list.
public enum D3Layout {
    /// The two D3 test subsets, in upstream's order (`dataset_paths_d3.py`).
    public static let subsets = ["augm", "no_augm"]
    /// Generator folders `gen_0` … `gen_3`.
    public static let generatorCount = 4

    /// Upstream's key for a subset and generator: `augm_gen0_and_real` for generator 0 (sic), otherwise
    /// `augm_gen_1`, `augm_gen_2`, … (docs/upstream.md, D3 test protocol).
    public static func key(subset: String, generator: Int) -> String {
        generator == 0 ? "\(subset)_gen0_and_real" : "\(subset)_gen_\(generator)"
    }

    /// Finds the D3 test layout `{augm,no_augm}/{real,gen_0,gen_1,gen_2,gen_3}` under `root` (or under
    /// `root/d3_test` when `root` holds that folder instead): up to 8 pairs, each real folder paired with
    /// the four generator folders of its subset, keyed and ordered as upstream. Missing folders are listed
    /// in the result; it throws only when no pair is complete.
    public static func discover(root: String) throws(EvaluationInputError) -> D3Discovery {
        guard isDirectory(root) else { throw EvaluationInputError("\(root): no such directory") }
        var base = normalizedPath(root)
        if !subsets.contains(where: { isDirectory(join(base, $0)) }), isDirectory(join(base, "d3_test")) {
            base = join(base, "d3_test")
        }
        var pairs: [EvaluationPair] = [], missing: [String] = []
        for subset in subsets {
            guard isDirectory(join(base, subset)) else { missing.append(subset); continue }
            let real = join(base, subset + "/real")
            let realExists = isDirectory(real)
            if !realExists { missing.append(subset + "/real") }
            for g in 0..<generatorCount {
                let fake = join(base, subset + "/gen_\(g)")
                guard isDirectory(fake) else { missing.append(subset + "/gen_\(g)"); continue }
                if realExists { pairs.append(EvaluationPair(key: key(subset: subset, generator: g), real: real, fake: fake)) }
            }
        }
        if pairs.isEmpty {
            throw EvaluationInputError("\(root): no D3 test pair found (expected {augm,no_augm}/{real,gen_0,…,gen_3}; missing: \(missing.joined(separator: ", ")))")
        }
        return D3Discovery(pairs: pairs, missingFolders: missing, root: base)
    }

    /// Pairs from repeated `--real DIR --fake DIR` options, matched by position; pair i is keyed
    /// `names[i]` when given (non-nil, non-empty), otherwise `pair-{i+1}`. Keys must be distinct.
    public static func explicitPairs(real: [String], fake: [String], names: [String?] = []) throws(EvaluationInputError) -> [EvaluationPair] {
        guard real.count == fake.count else {
            throw EvaluationInputError("\(real.count) real folder(s) but \(fake.count) fake folder(s): give them in pairs")
        }
        guard !real.isEmpty else { throw EvaluationInputError("no real/fake pair given") }
        guard names.count <= real.count else { throw EvaluationInputError("\(names.count) names for \(real.count) pair(s)") }
        var pairs: [EvaluationPair] = [], seen: Set<String> = []
        for i in real.indices {
            let given = i < names.count ? names[i] : nil
            let key = (given?.isEmpty == false ? given! : "pair-\(i + 1)")
            guard seen.insert(key).inserted else { throw EvaluationInputError("pair key '\(key)' is used twice") }
            pairs.append(EvaluationPair(key: key, real: real[i], fake: fake[i]))
        }
        return pairs
    }

    /// Reads a YAML list of pairs (see `parsePairsYAML`); relative paths are taken from the file's folder.
    public static func loadPairsYAML(path: String) throws(EvaluationInputError) -> [EvaluationPair] {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvaluationInputError("\(path): cannot read file") }
        guard let text = String(data: data, encoding: .utf8) else { throw EvaluationInputError("\(path): not UTF-8 text") }
        let folder = (path as NSString).deletingLastPathComponent
        return try parsePairsYAML(text, baseDirectory: folder.isEmpty ? "." : folder, fileName: path)
    }

    /// Parses a YAML list of pairs (read with Yams, each item decoded as a typed entry):
    ///
    /// ```yaml
    /// # comment
    /// - key: augm_gen_1        # optional; defaults to pair-N (N = 1-based position)
    ///   real: d3_test/augm/real
    ///   fake: "d3_test/augm/gen_1"
    /// -
    ///   real: /abs/real
    ///   fake: 'it''s fake'
    /// ```
    ///
    /// The document is a list whose items are mappings with the fields `key`, `real` and `fake` (`real` and
    /// `fake` required); each value is one scalar (plain or quoted; empty, `~` and `null` are refused). Keys
    /// must be distinct. Anything else, and any YAML syntax error, is reported as `fileName:line: message`.
    /// Relative paths are joined to `baseDirectory`.
    public static func parsePairsYAML(_ text: String, baseDirectory: String, fileName: String = "pairs.yaml") throws(EvaluationInputError) -> [EvaluationPair] {
        func failure(_ message: String, line: Int?) -> EvaluationInputError {
            line.map { EvaluationInputError("\(fileName):\($0): \(message)", line: $0) } ?? EvaluationInputError("\(fileName): \(message)")
        }
        let document: Node?
        do { document = try YAMLText.compose(text) } catch { throw failure(error.message, line: error.line) }
        guard let document else { throw EvaluationInputError("\(fileName): no pairs listed (expected '- key: …' items)") }
        guard case let .sequence(items) = document else {
            throw failure("expected a list of pairs ('- key: …', '  real: …', '  fake: …' list items); only a top-level list is supported",
                          line: YAMLText.line(of: document))
        }
        if items.isEmpty { throw EvaluationInputError("\(fileName): no pairs listed (expected '- key: …' items)") }
        var pairs: [EvaluationPair] = [], seen: [String: Int] = [:]
        for (n, item) in items.enumerated() {
            let itemLine = YAMLText.line(of: item)
            guard case let .mapping(fields) = item else {
                throw failure("each list item must hold the fields key, real and fake ('real: DIR' lines)", line: itemLine)
            }
            var keyLine = itemLine
            for (name, value) in fields {
                let field = name.string ?? "\(name)", line = YAMLText.line(of: name)
                guard ["key", "real", "fake"].contains(field) else {
                    throw failure("unknown field '\(field)' (expected key, real or fake)", line: line)
                }
                if field == "key" { keyLine = line }
                guard let scalar = value.scalar else {
                    if let start = YAMLText.line(of: value), let line, start > line {
                        throw failure("field '\(field)' has no value on its line (nested blocks are not supported)", line: line)
                    }
                    throw failure("unsupported YAML syntax in the value of '\(field)' (a single path or name, not a list or mapping)", line: line)
                }
                if scalar.string.isEmpty { throw failure("field '\(field)' has no value", line: line) }
                if value.null != nil { throw failure("field '\(field)' is null", line: line) }
            }
            for required in ["real", "fake"] where fields[required] == nil {
                throw failure("the item has no '\(required)' field", line: itemLine)
            }
            let entry: PairEntry
            do { entry = try YAMLText.decode(PairEntry.self, from: item) } catch { throw failure("\(error)", line: itemLine) }
            let key = entry.key ?? "pair-\(n + 1)"
            if let earlier = seen[key] {
                throw failure("key '\(key)' is already used by the item on line \(earlier)", line: keyLine)
            }
            seen[key] = itemLine ?? n + 1
            func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : normalizedPath(join(baseDirectory, p)) }
            pairs.append(EvaluationPair(key: key, real: resolve(entry.real), fake: resolve(entry.fake)))
        }
        return pairs
    }

    /// One item of a pairs file, as decoded.
    struct PairEntry: Decodable {
        var key: String?
        var real: String
        var fake: String
    }

    static func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    static func join(_ a: String, _ b: String) -> String {
        a.isEmpty ? b : (a.hasSuffix("/") ? a + b : a + "/" + b)
    }
}

/// `path` without repeated slashes, `.` components or a trailing slash (`..` is kept: symbolic links make
/// it unsafe to fold lexically). Used so one folder named two ways lists its images under one name.
func normalizedPath(_ path: String) -> String {
    let absolute = path.hasPrefix("/")
    let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
    let joined = parts.joined(separator: "/")
    if absolute { return "/" + joined }
    return joined.isEmpty ? "." : joined
}

/// The images of a set of pairs, listed once each.
///
/// Folders are walked recursively; files whose extension (any case) is in `Imaging.imageFileExtensions`
/// (jpg, jpeg, png, bmp, gif, tif, tiff, webp) are kept, sorted by path, hidden files skipped (the `detect`
/// listing, `expandInputs`). Unlike upstream's `file.split(".")[1]` test this also takes `.PNG`, GIF, TIFF,
/// WebP and names with several dots (docs/upstream.md, D3 test file listing). Each pair lists its reals then its fakes,
/// as upstream. A folder used by several pairs (D3's `real` folder is shared by four) is listed once, and
/// an image reachable from several pairs appears once in `paths`: embed `paths` (or `inputItems`), then
/// read each pair through its indices.
public struct EvaluationDataset: Sendable {
    /// One pair with its images as indices into `paths`.
    public struct Pair: Sendable, Equatable {
        /// The pair's key.
        public let key: String
        /// The real folder as given.
        public let realFolder: String
        /// The fake folder as given.
        public let fakeFolder: String
        /// The real images, as indices into `paths`, sorted by path.
        public let realIndices: [Int]
        /// The fake images, as indices into `paths`, sorted by path.
        public let fakeIndices: [Int]

        /// Reals then fakes, as upstream orders a pair, with their labels (true = fake).
        public var labelledIndices: [(index: Int, isFake: Bool)] {
            realIndices.map { ($0, false) } + fakeIndices.map { ($0, true) }
        }
    }

    /// The pairs, in the order given.
    public let pairs: [Pair]
    /// Every distinct image path, each once, in order of first appearance.
    public let paths: [String]
    /// `paths` as found (an entry that cannot be read keeps its error; a name that is not UTF-8 its bytes).
    let items: [InputItem]
    /// Non-fatal findings (a folder with no images), for the user to see.
    public let warnings: [String]

    /// Lists the images of `pairs`. Throws when a folder does not exist or two pairs share a key.
    public init(pairs: [EvaluationPair]) throws(EvaluationInputError) {
        var listings: [String: [InputItem]] = [:]
        var indexOf: [String: Int] = [:]
        var items: [InputItem] = [], warnings: [String] = [], out: [Pair] = [], keys: Set<String> = []
        func list(_ folder: String) throws(EvaluationInputError) -> [Int] {
            let name = normalizedPath(folder)
            if listings[name] == nil {
                let found = expandInputs([name])
                // The folder itself unusable fails the pair; an entry under it that cannot be read fails alone,
                // like an image that does not decode.
                if found.count == 1, let error = found[0].error, found[0].path == name {
                    throw EvaluationInputError("\(folder): \(error)")
                }
                listings[name] = found
                if found.isEmpty { warnings.append("\(folder): no images found") }
            }
            return listings[name]!.map { item in
                if let i = indexOf[item.path] { return i }
                indexOf[item.path] = items.count
                items.append(item)
                return items.count - 1
            }
        }
        for pair in pairs {
            guard keys.insert(pair.key).inserted else { throw EvaluationInputError("pair key '\(pair.key)' is used twice") }
            let reals = try list(pair.real), fakes = try list(pair.fake)
            out.append(Pair(key: pair.key, realFolder: pair.real, fakeFolder: pair.fake, realIndices: reals, fakeIndices: fakes))
        }
        self.pairs = out; self.paths = items.map(\.path); self.items = items; self.warnings = warnings
    }

    /// `paths` as inputs for `Embedder.run`.
    public var inputItems: [InputItem] { items }
}

extension EvaluationDataset {
    /// A dataset from pairs over images already listed in `paths` (the pairs' indices point into it).
    public init(pairs: [Pair], paths: [String], warnings: [String] = []) {
        self.pairs = pairs; self.paths = paths; self.items = paths.map { InputItem(path: $0) }; self.warnings = warnings
    }
}
