import Checkpoints
import DeepfakeCore
import Foundation
import Yams

/// The configuration as YAML, through `TrainingKey.all`: decoding applies the keys of a mapping on upstream's
/// defaults, encoding writes every recorded key (`TrainingKey.isWritten`), so `config.yaml` reads back equal.
extension TrainingConfiguration: Codable {
    /// A configuration from the keys of a YAML mapping on the defaults (keys without effect are skipped;
    /// `apply(yaml:file:)` names them).
    package init(from decoder: Decoder) throws {
        self = try TrainingSettings(from: decoder).configuration
    }

    package func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: TrainingKeyName.self)
        for key in TrainingKey.all { try key.write?(self, &container) }
    }
}

/// The keys of one YAML mapping decoded, in order, onto a base configuration (user-info entry `base`, else the
/// defaults), with the keys read that have no effect here.
struct TrainingSettings: Decodable {
    static let base = CodingUserInfoKey(rawValue: "deepfake.training.base")!
    var configuration: TrainingConfiguration
    var noEffect: [String] = []

    init(from decoder: Decoder) throws {
        configuration = decoder.userInfo[Self.base] as? TrainingConfiguration ?? TrainingConfiguration()
        let container = try decoder.container(keyedBy: TrainingKeyName.self)
        var seen: [String: String] = [:]
        for name in container.allKeys {
            let spelling = name.stringValue
            guard let key = TrainingKey.named(spelling) else {
                throw TrainingKeyProblem(key: spelling, message: "unknown key (neither one of this implementation's keys nor one of upstream's "
                                         + "that it knows; deepfake train --help lists them)")
            }
            if let other = seen[key.name] {
                throw TrainingKeyProblem(key: spelling, message: "is the same key as '\(other)', given before")
            }
            seen[key.name] = spelling
            let value = TrainingKeyValue(container: container, key: name)
            do {
                try key.apply(&configuration, value)
            } catch let problem as TrainingKeyProblem {
                throw problem
            } catch {
                let found = value.isNull ? "null" : value.text.map { "'\($0)'" } ?? "a list or mapping"
                throw TrainingKeyProblem(key: spelling, message: "must be \(key.type.rawValue), found \(found)")
            }
            if case .noEffect = key.effect { noEffect.append(spelling) }
        }
    }
}

extension TrainingConfiguration {
    /// Applies the keys of a YAML configuration file: upstream's `config-training.yaml` keys or this
    /// implementation's (`TrainingKey.all`; `-` and `_` alike). Returns the keys read that have no effect here,
    /// as spelled. An unknown key, a value of the wrong type or a refused value throws `file:line: key: reason`.
    package mutating func apply(yaml text: String, file: String) throws -> [String] {
        let document: Node?
        do { document = try YAMLText.compose(text) } catch {
            throw TrainingError.configuration("\(file):\(error.line.map { "\($0):" } ?? "") \(error.message)")
        }
        guard let document else { return [] }
        guard case let .mapping(mapping) = document else {
            throw TrainingError.configuration("\(file):\(YAMLText.line(of: document).map { "\($0):" } ?? "") expected `key: value` lines")
        }
        do {
            let settings = try YAMLText.decode(TrainingSettings.self, from: document, userInfo: [TrainingSettings.base: self])
            self = settings.configuration
            return settings.noEffect
        } catch let problem as TrainingKeyProblem {
            let line = mapping.keys.first { $0.string == problem.key }.flatMap(YAMLText.line(of:))
            throw TrainingError.configuration("\(file):\(line.map { "\($0):" } ?? "") \(problem.key): \(problem.message)")
        }
    }

    /// Reads and applies a YAML configuration file (see `apply(yaml:file:)`).
    package mutating func apply(yamlFile path: String) throws -> [String] {
        let bytes: [UInt8]
        do { bytes = try readSmallFile(path, limit: 16 << 20) } catch { throw TrainingError.configuration("cannot read the configuration file \(error)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw TrainingError.configuration("\(path): not UTF-8 text") }
        return try apply(yaml: text, file: path)
    }

    /// Applies command-line settings, upstream's `train.sh` flags among them: `--key value`, `--key=value`,
    /// `--key v1 v2 …` (lists), `--flag` alone (true) and `--no-flag` (false); `-b` and other one-dash names
    /// alike. A repeated list key adds to its list; a repeated other key takes its last value. Returns the keys
    /// read that have no effect here, as spelled.
    package mutating func apply(arguments: [String]) throws -> [String] {
        func isName(_ token: String) -> Bool { token.hasPrefix("-") && token.count > 1 && Double(token) == nil }
        var settings: [(spelling: String, key: TrainingKey?, values: [String])] = []
        var i = 0
        while i < arguments.count {
            let token = arguments[i]
            i += 1
            guard isName(token) else {
                throw TrainingError.configuration("'\(token)': expected a setting such as --epochs 150 (deepfake train --help lists the keys)")
            }
            var spelling = String(token.drop { $0 == "-" }), values: [String] = []
            if let equals = spelling.firstIndex(of: "=") {
                values = [String(spelling[spelling.index(after: equals)...])]
                spelling = String(spelling[..<equals])
            } else {
                while i < arguments.count, !isName(arguments[i]) { values.append(arguments[i]); i += 1 }
            }
            var key = TrainingKey.named(spelling)
            if key == nil, values.isEmpty, TrainingKey.normalized(spelling).hasPrefix("no-"),
               let positive = TrainingKey.named(String(spelling.dropFirst(3))), positive.type == .flag {
                key = positive
                spelling = String(spelling.dropFirst(3))
                values = ["false"]
            }
            if values.isEmpty {
                guard key == nil || key?.type == .flag || key?.type == .any else {
                    throw TrainingError.configuration("--\(spelling): needs a value (\(key!.type.rawValue))")
                }
                values = ["true"]
            }
            if let key, let j = settings.firstIndex(where: { $0.key?.name == key.name }) {
                settings[j].values = key.type == .specs ? settings[j].values + values : values
                settings[j].spelling = spelling
            } else {
                settings.append((spelling, key, values))
            }
        }
        let lists: [TrainingKeyType] = [.specs, .range, .numbers, .names]
        let node = Node.mapping(Node.Mapping(settings.map { setting in
            let many = setting.values.count > 1 || setting.key.map { lists.contains($0.type) } ?? false
            return (Node(setting.spelling), many ? Node.sequence(Node.Sequence(setting.values.map { Node($0) })) : Node(setting.values[0]))
        }))
        do {
            let decoded = try YAMLText.decode(TrainingSettings.self, from: node, userInfo: [TrainingSettings.base: self])
            self = decoded.configuration
            return decoded.noEffect
        } catch let problem as TrainingKeyProblem {
            throw TrainingError.configuration("--\(problem.key): \(problem.message)")
        }
    }

    /// What `deepfake train` runs with: the defaults, then the configuration file (`configFile`, or with
    /// `resume` and no file the run folder's `config.yaml`), then the command-line settings; validated.
    /// Returns it with the keys read that have no effect here (file then command line, each once).
    package static func resolve(configFile: String?, arguments: [String], resume: Bool) throws
        -> (configuration: TrainingConfiguration, noEffect: [String]) {
        var fromArguments = TrainingConfiguration()
        _ = try fromArguments.apply(arguments: arguments)  // checked first; it names the run folder
        var configuration = TrainingConfiguration(), noEffect: [String] = []
        if let file = configFile ?? (resume ? fromArguments.output + "/config.yaml" : nil) {
            noEffect += try configuration.apply(yamlFile: file)
        }
        noEffect += try configuration.apply(arguments: arguments)
        try configuration.validate()
        var seen: Set<String> = []
        return (configuration, noEffect.filter { seen.insert($0).inserted })
    }

    /// The one warning line naming the keys read without effect here; nil when there are none.
    package static func noEffectWarning(_ keys: [String]) -> String? {
        keys.isEmpty ? nil : "warning: accepted without effect here: \(keys.joined(separator: ", ")) (deepfake train --help says why)"
    }

    /// The configuration as YAML (`config.yaml` in the run folder): every recorded key, in `TrainingKey.all`'s
    /// order, values quoted where YAML needs it; `apply(yaml:file:)` and `--resume` read it back equal.
    package func encodedYAML() throws -> String {
        "# deepfake train: the resolved configuration (--resume reads it, --config takes it)\n" + (try YAMLText.encode(self))
    }

    /// `encodedYAML()`, or an empty text if Yams could not emit it (our values are strings, numbers, booleans,
    /// lists and null, which it always emits).
    package var yaml: String { (try? encodedYAML()) ?? "" }
}

extension TrainingKey {
    /// The keys for `deepfake train --help`: each with its other names, type, default and purpose, then those
    /// accepted without effect, grouped by reason.
    package static var helpText: String {
        /// `text` in lines of at most 78 characters, the first starting with `first`, the others with `rest`.
        func wrapped(_ text: String, first: String, rest: String) -> [String] {
            var lines: [String] = [], line = first
            for word in text.split(separator: " ") {
                if line.count + word.count + 1 > 78, line.count > rest.count, line != first { lines.append(line); line = rest }
                line += (line == first || line == rest ? "" : " ") + word
            }
            return lines + [line]
        }
        var lines = ["Keys (YAML `key: value` lines in --config, or --key value on the command line;",
                     "'-' and '_' alike):"]
        for key in all where key.effect == .applies {
            let names = key.name + (key.aliases.isEmpty ? "" : " (" + key.aliases.joined(separator: ", ") + ")")
            let value = key.defaultText.map { $0.hasPrefix("only ") ? $0 : "\(key.type.rawValue), default \($0)" } ?? key.type.rawValue
            lines += wrapped(names + ": " + value, first: "  ", rest: "      ")
            lines += wrapped(key.doc, first: "      ", rest: "      ")
        }
        lines.append("Accepted without effect here (named in one warning line):")
        var reasons: [(reason: String, names: [String])] = []
        for key in all {
            guard case let .noEffect(reason) = key.effect else { continue }
            if let i = reasons.firstIndex(where: { $0.reason == reason }) { reasons[i].names.append(key.name) } else { reasons.append((reason, [key.name])) }
        }
        for (reason, names) in reasons { lines += wrapped(names.joined(separator: ", ") + ": " + reason + ".", first: "  ", rest: "      ") }
        lines.append("Any other key, and a value a key cannot take here (--opt sgd, --model resnet50,")
        lines.append("...), stops with the reason.")
        return lines.joined(separator: "\n")
    }
}
