import Foundation
import Yams

/// A problem in a YAML text, at a line when one is known: the configuration readers turn it into their own
/// `file:line: message` errors.
package struct YAMLProblem: Error, Sendable, CustomStringConvertible {
    /// The 1-based line, nil when the problem concerns the whole text.
    package let line: Int?
    /// What is wrong, for people.
    package let message: String

    /// A problem with its message and, when known, its line.
    package init(_ message: String, line: Int?) {
        self.message = message; self.line = line
    }

    /// `line N: message`, or the message alone.
    package var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// YAML read with Yams (libyaml): the text's one document as a node that keeps each value's line, and typed
/// values decoded from nodes with Yams' `Codable` decoder. The training configuration and the evaluation pairs
/// file both read through here, so they accept the same YAML.
package enum YAMLText {
    /// The document of `text` as a node; nil when it holds no document (blank lines and comments only).
    /// Syntax errors, duplicate keys and several documents are thrown as a problem at the line they occur,
    /// with the column and, for the usual mistakes, a hint.
    package static func compose(_ text: String) throws(YAMLProblem) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw problem(error, text: text)
        } catch {
            throw YAMLProblem("\(error)", line: nil)
        }
    }

    /// Decodes `node` as `T` with Yams' decoder; `userInfo` is passed on to `T`'s `init(from:)`.
    package static func decode<T: Decodable>(_ type: T.Type, from node: Node, userInfo: [CodingUserInfoKey: Any] = [:]) throws -> T {
        try YAMLDecoder().decode(type, from: node, userInfo: userInfo)
    }

    /// `value` as YAML text, block style, long lines kept whole.
    package static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = YAMLEncoder()
        encoder.options.width = -1
        encoder.options.allowUnicode = true
        return try encoder.encode(value)
    }

    /// The 1-based line where `node` starts (nil for nodes made in code).
    package static func line(of node: Node) -> Int? { node.mark?.line }

    /// The problem behind a Yams error, at the line where a person should look.
    static func problem(_ error: YamlError, text: String) -> YAMLProblem {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        func located(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> YAMLProblem {
            // An unterminated construct is reported at the end of the text; its start is where to look.
            if problem.contains("end of stream"), let context {
                if context.text.contains("quoted scalar") {
                    return YAMLProblem("unterminated quoted value: the quote at column \(context.mark.column) is never closed",
                                       line: context.mark.line)
                }
                return YAMLProblem("\(problem) (\(context.text) started at column \(context.mark.column))", line: context.mark.line)
            }
            var message = "\(problem) (column \(mark.column)\(context.map { ", \($0.text)" } ?? ""))"
            let before = mark.line - 1 < lines.count ? String(lines[mark.line - 1].unicodeScalars.prefix(mark.column - 1)) : ""
            let last = before.trimmingCharacters(in: .whitespaces).last
            if problem.contains("mapping values are not allowed") {
                message += ": if a value contains ': ', quote it; otherwise indent the line like the lines around it"
            } else if last == "'" || last == "\"" {
                message = "unexpected text after the quoted value: " + message
            }
            return YAMLProblem(message, line: mark.line)
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            return located(context, problem, mark)
        case let .duplicatedKeysInMapping(duplicates, context):
            // Yams marks the first of the keys; the repeat is the next line that starts with the key at its column.
            let first = context.mark
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            var line = first.line
            if let key = duplicates.first {
                let later = lines.indices.dropFirst(first.line).first { i in
                    let rest = String(lines[i].unicodeScalars.dropFirst(first.column - 1))
                    return rest.hasPrefix(key) && rest.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix(":")
                }
                if let later { line = later + 1 }
            }
            return YAMLProblem("key \(names) is given twice in one mapping (first on line \(first.line))", line: line)
        case let .reader(problem, _, _, _):
            return YAMLProblem("not readable as UTF-8 text: \(problem)", line: nil)
        default:
            return YAMLProblem("\(error)", line: nil)
        }
    }
}
