// Shard specifications: brace patterns (`d3-{0000..0491}.tar`, as the braceexpand package that webdataset uses),
// `::`-separated lists of patterns (webdataset's `expand_urls`), `.shards` list files (CoDE's
// `src/dataset/shards/*`), local paths, `file://` and `http(s)://` URLs, and `-` for standard input.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FileAccess
import Foundation

/// Where a shard's bytes come from.
public enum ShardLocation: Sendable, Hashable {
    case file(String)
    case url(URL)
    case standardInput
}

/// Expansion of shard specifications into shard names.
public enum ShardSpec {
    /// Most names one specification may expand to (a guard against `{0..999999999}` typos).
    public static let maxExpansion = 1_000_000

    /// Bash-style brace expansion, as Python's `braceexpand` 0.1.7 (webdataset's expander):
    /// integer ranges `{0000..0491}` (zero padding kept when either end has a leading zero, optional step
    /// `{0..10..2}`, descending `{3..1}`, negative numbers), letter ranges `{a..e}`, comma lists `{a,b,}` (empty
    /// items kept), nesting, several groups (the rightmost varies fastest), `\` escaping a character. Braces that
    /// hold neither a range nor a comma list stay literal (`{x}`), with their content still expanded.
    /// - Throws: unbalanced braces, or more than ``maxExpansion`` names.
    public static func expandBraces(_ pattern: String) throws(WebDatasetError) -> [String] {
        let scalars = Array(pattern.unicodeScalars)
        let expanded = try BraceExpander(pattern: pattern).expand(scalars[...])
        return expanded.map(removeEscapes)
    }

    /// Splits `spec` at `::` and brace-expands each part (webdataset's `expand_urls`, without its `${VAR}`
    /// substitution).
    public static func expand(_ spec: String) throws(WebDatasetError) -> [String] {
        let trimmed = spec.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw WebDatasetError(.specification, shard: spec, reason: "empty shard specification") }
        var names: [String] = []
        for part in trimmed.components(separatedBy: "::") {
            guard !part.isEmpty else {
                throw WebDatasetError(.specification, shard: spec, reason: "empty item in a '::'-separated shard specification")
            }
            names += try expandBraces(part)
            if names.count > maxExpansion {
                throw WebDatasetError(.specification, shard: spec, reason: "expands to more than \(maxExpansion) names")
            }
        }
        return names
    }

    /// Reads a shard list file: one name per line, each joined to `root` (`root + "/" + line.strip()`, as CoDE's
    /// loader does); blank lines are ignored, the last line may lack its newline, `\r\n` endings are accepted.
    /// Lines that are absolute paths, URLs or `-` are kept as they are.
    /// - Parameter root: folder (or URL prefix) the names are relative to; nil: the list file's own folder.
    public static func readList(_ path: String, root: String? = nil) throws(WebDatasetError) -> [String] {
        try readListEntries(path, root: root).map(\.name)
    }

    /// ``readList(_:root:)`` with the line each name is on.
    public static func readListEntries(_ path: String, root: String? = nil) throws(WebDatasetError) -> [ShardEntry] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw WebDatasetError(.unreadable, shard: path, reason: "cannot read the shard list: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WebDatasetError(.specification, shard: path, reason: "the shard list is not UTF-8 text")
        }
        let base = root ?? (path as NSString).deletingLastPathComponent
        var entries: [ShardEntry] = []
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (number, line) in lines.enumerated() {
            let name = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if name.isEmpty { continue }
            let joined = name.hasPrefix("/") || name == "-" || schemeOf(name) != nil || base.isEmpty ? name : base + "/" + name
            entries.append(ShardEntry(name: joined, spec: path, line: number + 1))
        }
        return entries
    }

    /// Resolves a user's shard specification: a list file (name ending in `.shards` or `-shards`, as CoDE's lists)
    /// is read with ``readList(_:root:)``; anything else is expanded with ``expand(_:)``. Every resulting name is
    /// checked with ``location(of:)``.
    public static func resolve(_ spec: String, root: String? = nil) throws(WebDatasetError) -> [String] {
        try resolveEntries(spec, root: root).map(\.name)
    }

    /// ``resolve(_:root:)`` with where each name comes from (the list file and line, or the pattern).
    public static func resolveEntries(_ spec: String, root: String? = nil) throws(WebDatasetError) -> [ShardEntry] {
        let trimmed = spec.trimmingCharacters(in: .whitespacesAndNewlines)
        let entries: [ShardEntry]
        if schemeOf(trimmed) == nil && (trimmed.hasSuffix(".shards") || trimmed.hasSuffix("-shards")) {
            entries = try readListEntries(trimmed, root: root)
        } else {
            entries = try expand(trimmed).map { ShardEntry(name: $0, spec: trimmed, line: nil) }
        }
        guard !entries.isEmpty else { throw WebDatasetError(.specification, shard: spec, reason: "no shards") }
        for entry in entries { _ = try location(of: entry.name) }
        return entries
    }

    /// Why the local shard file `path` cannot be read, or nil: it does not exist, is a folder, or cannot be opened
    /// for reading. (Only what can be known before reading it: a damaged archive is found when it is read.)
    public static func localFileProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return pathErrorText(errno, path) }
        if info.st_mode & S_IFMT == S_IFDIR { return "is a folder, not a tar file" }
        guard access(path, R_OK) == 0 else { return "cannot be read: " + pathErrorText(errno, path) }
        return nil
    }

    /// Where `shard` is read from: `-` is standard input, `http://`/`https://` a URL, `file://` a local path
    /// (percent-decoded), a name without a scheme a local path.
    /// - Throws: an empty name, a malformed URL, or another scheme (`s3://`, webdataset's `pipe:` …).
    public static func location(of shard: String) throws(WebDatasetError) -> ShardLocation {
        guard !shard.isEmpty else { throw WebDatasetError(.specification, shard: shard, reason: "empty shard name") }
        if shard == "-" { return .standardInput }
        if shard.hasPrefix("pipe:") {
            throw WebDatasetError(.specification, shard: shard, reason: "'pipe:' shards are not supported (use '-' and pipe into standard input)")
        }
        guard let scheme = schemeOf(shard) else { return .file(shard) }
        switch scheme {
        case "http", "https":
            guard let url = URL(string: shard), let host = url.host, !host.isEmpty else {
                throw WebDatasetError(.specification, shard: shard, reason: "malformed URL")
            }
            return .url(url)
        case "file":
            guard let url = URL(string: shard), !url.path.isEmpty else {
                throw WebDatasetError(.specification, shard: shard, reason: "malformed file URL")
            }
            return .file(url.path)
        default:
            throw WebDatasetError(.specification, shard: shard, reason: "unsupported URL scheme '\(scheme)' (supported: local paths, file://, http://, https://, -)")
        }
    }
}

/// A shard name and where it was named: a line of a list file, or a pattern it expanded from.
public struct ShardEntry: Sendable, Hashable, CustomStringConvertible {
    /// The shard (as ``ShardSpec/resolve(_:root:)`` gives it).
    public var name: String
    /// The list file or the pattern.
    public var spec: String
    /// The list file's line, from 1; nil for a pattern.
    public var line: Int?

    /// Where it was named: `LIST line N`, or the pattern in quotes.
    public var origin: String { line.map { "\(spec) line \($0)" } ?? "'\(spec)'" }
    /// `ORIGIN: NAME`.
    public var description: String { "\(origin): \(name)" }
}

/// The lower-cased scheme of `text` when it starts with `scheme://`.
private func schemeOf(_ text: String) -> String? {
    guard let range = text.range(of: "://") else { return nil }
    let scheme = text[..<range.lowerBound]
    guard let first = scheme.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic,
          scheme.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)
              || $0 == "+" || $0 == "-" || $0 == ".") }) else { return nil }
    return scheme.lowercased()
}

/// braceexpand removes a backslash before any character once everything is expanded.
private func removeEscapes(_ text: String) -> String {
    guard text.contains("\\") else { return text }
    var out = String.UnicodeScalarView()
    var escaped = false
    for scalar in text.unicodeScalars {
        if !escaped && scalar == "\\" { escaped = true; continue }
        // A trailing lone backslash stays (the regular expression needs a character after it).
        escaped = false
        out.append(scalar)
    }
    if escaped { out.append("\\") }
    return String(out)
}

/// The expansion algorithm of braceexpand 0.1.7 over Unicode scalars (escapes are kept until the end).
private struct BraceExpander {
    let pattern: String
    typealias Scalars = ArraySlice<Unicode.Scalar>

    func unbalanced() -> WebDatasetError {
        WebDatasetError(.specification, shard: pattern, reason: "unbalanced braces in shard pattern")
    }

    func tooMany() -> WebDatasetError {
        WebDatasetError(.specification, shard: pattern, reason: "brace pattern expands to more than \(ShardSpec.maxExpansion) names")
    }

    /// A pattern: literal runs and top-level brace groups, combined as a product.
    func expand(_ text: Scalars) throws(WebDatasetError) -> [String] {
        var items: [[String]] = []
        var start = text.startIndex
        var position = text.startIndex
        var depth = 0
        while position < text.endIndex {
            let scalar = text[position]
            if scalar == "\\" {
                position += 2
                continue
            } else if scalar == "{" {
                if depth == 0 && position > start {
                    items.append([string(text[start..<position])])
                    start = position
                }
                depth += 1
            } else if scalar == "}" {
                depth -= 1
                if depth == 0 {
                    let expression = text[(start + 1)..<position]
                    if let item = try parseExpression(expression) {
                        items.append(item)
                    } else {
                        items.append(["{"])
                        items.append(try expand(expression))
                        items.append(["}"])
                    }
                    start = position + 1
                }
            }
            position += 1
        }
        if depth != 0 { throw unbalanced() }
        if start < min(position, text.endIndex) { items.append([string(text[start..<text.endIndex])]) }
        return try product(items)
    }

    func product(_ items: [[String]]) throws(WebDatasetError) -> [String] {
        var total = 1
        for item in items {
            total *= item.count
            if total > ShardSpec.maxExpansion { throw tooMany() }
        }
        var result = [""]
        for item in items {
            var next: [String] = []
            next.reserveCapacity(result.count * item.count)
            for prefix in result { for suffix in item { next.append(prefix + suffix) } }
            result = next
        }
        return result
    }

    func parseExpression(_ text: Scalars) throws(WebDatasetError) -> [String]? {
        if let range = try integerRange(text) { return range }
        if let range = letterRange(text) { return range }
        return try sequence(text)
    }

    /// `{a,b,c}` at top level of the group; nil when there is no top-level comma or the braces inside are
    /// unbalanced.
    func sequence(_ text: Scalars) throws(WebDatasetError) -> [String]? {
        var parts: [[String]] = []
        var start = text.startIndex
        var position = text.startIndex
        var depth = 0
        while position < text.endIndex {
            let scalar = text[position]
            if scalar == "\\" {
                position += 2
                continue
            } else if scalar == "{" {
                depth += 1
            } else if scalar == "}" {
                depth -= 1
            } else if scalar == "," && depth == 0 {
                parts.append(try expand(text[start..<position]))
                start = position + 1
            }
            position += 1
        }
        if depth != 0 || parts.isEmpty { return nil }
        parts.append(try expand(text[min(start, text.endIndex)..<text.endIndex]))
        let result = parts.flatMap { $0 }
        if result.count > ShardSpec.maxExpansion { throw tooMany() }
        return result
    }

    /// `^(-?\d+)\.\.(-?\d+)(?:\.\.-?(\d+))?$`
    func integerRange(_ text: Scalars) throws(WebDatasetError) -> [String]? {
        let parts = string(text).components(separatedBy: "..")
        guard parts.count == 2 || parts.count == 3 else { return nil }
        func isInteger(_ s: String) -> Bool {
            let digits = s.hasPrefix("-") ? s.dropFirst() : Substring(s)
            return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
        }
        guard isInteger(parts[0]), isInteger(parts[1]) else { return nil }
        var step = 1
        if parts.count == 3 {
            let stepText = parts[2].hasPrefix("-") ? String(parts[2].dropFirst()) : parts[2]
            guard !stepText.isEmpty, stepText.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            guard let value = Int(stepText) else { throw tooMany() }
            step = value == 0 ? 1 : value
        }
        guard let first = Int(parts[0]), let last = Int(parts[1]) else { throw tooMany() }
        let padded = [parts[0], parts[1]].contains { ($0 != "0" && $0 != "-0") && ($0.hasPrefix("0") || $0.hasPrefix("-0")) }
        let width = padded ? max(parts[0].count, parts[1].count) : 0
        let span = first < last ? last - first : first - last
        if span / step + 1 > ShardSpec.maxExpansion { throw tooMany() }
        let values = first < last ? Array(stride(from: first, through: last, by: step))
                                  : Array(stride(from: first, through: last, by: -step))
        return values.map { format($0, width: width) }
    }

    /// Python's `'%0Nd' % value`: zero padding to N characters, the sign included.
    func format(_ value: Int, width: Int) -> String {
        let digits = String(value.magnitude)
        let sign = value < 0 ? "-" : ""
        let pad = max(0, width - sign.count - digits.count)
        return sign + String(repeating: "0", count: pad) + digits
    }

    /// `^([A-Za-z])\.\.([A-Za-z])(?:\.\.-?(\d+))?$` over the alphabet A–Z then a–z.
    func letterRange(_ text: Scalars) -> [String]? {
        let parts = string(text).components(separatedBy: "..")
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        guard parts[0].count == 1, parts[1].count == 1,
              let first = alphabet.firstIndex(of: parts[0].first!), let last = alphabet.firstIndex(of: parts[1].first!)
        else { return nil }
        var step = 1
        if parts.count == 3 {
            let stepText = parts[2].hasPrefix("-") ? String(parts[2].dropFirst()) : parts[2]
            guard !stepText.isEmpty, stepText.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            step = max(1, Int(stepText) ?? 1)
        }
        let indices = first < last ? Array(stride(from: first, through: last, by: step))
                                   : Array(stride(from: first, through: last, by: -step))
        return indices.map { String(alphabet[$0]) }
    }

    func string(_ text: Scalars) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: text)
        return String(view)
    }
}
