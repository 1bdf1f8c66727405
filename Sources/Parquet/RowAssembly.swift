/// One value of an assembled row.
public indirect enum ParquetValue: Hashable, Sendable {
    case null
    case boolean(Bool)
    case int32(Int32)
    case int64(Int64)
    case float(Float)
    case double(Double)
    /// A BYTE_ARRAY not annotated as text, a FIXED_LEN_BYTE_ARRAY, or an INT96's raw 12 bytes.
    case bytes([UInt8])
    /// A BYTE_ARRAY annotated STRING, ENUM or JSON.
    case string(String)
    /// A LIST-annotated group, a repeated field, or a MAP (a list of records with fields `key` and `value`).
    case list([ParquetValue])
    /// A group (struct): its requested fields, in schema order.
    case record([ParquetField])

    /// The field `name` of a record (nil for other values, or when the record has no such field).
    public subscript(field name: String) -> ParquetValue? {
        guard case let .record(fields) = self else { return nil }
        return fields.first { $0.name == name }?.value
    }
}

/// A named field of a `ParquetValue.record`.
public struct ParquetField: Hashable, Sendable {
    public let name: String
    public let value: ParquetValue

    public init(name: String, value: ParquetValue) {
        self.name = name
        self.value = value
    }
}

/// The columns read from one row group.
public struct RowGroupData: Sendable {
    /// The file's path, for messages.
    public let file: String
    public let index: Int
    public let numRows: Int
    public let schema: ParquetSchema
    /// The requested columns, in schema order.
    public let columns: [ColumnData]

    /// The column with this dotted path, if it was read.
    public func column(_ path: String) -> ColumnData? {
        columns.first { $0.column.dottedPath == path }
    }

    /// The rows, each a `.record` of the top-level fields that have requested columns under them, holding
    /// only those columns: reading `image.bytes` alone gives records `{image: {bytes: ...}}` (or
    /// `{image: null}`). Lists, maps, structs and nulls at every level are assembled from the levels.
    /// Throws when the levels are inconsistent (a corrupt file) or a text value is not valid UTF-8.
    public func rows() throws(ParquetError) -> [ParquetValue] {
        var slots: [Int: Int] = [:]
        for (slot, column) in columns.enumerated() { slots[column.column.index] = slot }
        let top = schema.root.children.compactMap { AssemblyNode.build($0, slots) }
        var assembler = Assembler(columns: columns)
        var rows: [ParquetValue] = []
        // Every row takes at least one entry of each column, so the columns bound the rows.
        rows.reserveCapacity(min(numRows, columns.map(\.count).min() ?? 0))
        do throws(DecodeFailure) {
            for row in 0..<numRows {
                try assembler.startRow(row)
                var fields: [ParquetField] = []
                fields.reserveCapacity(top.count)
                for node in top { fields.append(ParquetField(name: node.name, value: try assembler.value(node))) }
                rows.append(.record(fields))
            }
            try assembler.finish(rows: numRows)
        } catch {
            throw error.error(file: file, rowGroup: index)
        }
        return rows
    }
}

/// The requested part of a schema subtree, with what assembly needs precomputed.
private final class AssemblyNode {
    enum Kind {
        case leaf(slot: Int)
        case group([AssemblyNode])
        /// A LIST-annotated group: its repeated child, and whether an element is that child's only field
        /// (the standard three-level list) rather than the repeated node itself (legacy two-level lists).
        case list(repeated: AssemblyNode, elementIsChild: Bool)
        /// A MAP-annotated group: its repeated key/value group.
        case map(repeated: AssemblyNode)
    }

    let name: String
    let repetition: Repetition
    let definitionLevel: Int
    let repetitionLevel: Int
    let kind: Kind
    /// The slots of the requested leaves under this node; the first one's levels decide nulls and list ends.
    let leaves: [Int]

    private init(_ node: SchemaNode, _ kind: Kind, _ leaves: [Int]) {
        name = node.name
        repetition = node.repetition
        definitionLevel = node.definitionLevel
        repetitionLevel = node.repetitionLevel
        self.kind = kind
        self.leaves = leaves
    }

    /// The node for `node` keeping only leaves in `slots` (column index → slot); nil when none is under it.
    static func build(_ node: SchemaNode, _ slots: [Int: Int]) -> AssemblyNode? {
        if let index = node.columnIndex {
            guard let slot = slots[index] else { return nil }
            return AssemblyNode(node, .leaf(slot: slot), [slot])
        }
        let children = node.children.compactMap { build($0, slots) }
        guard !children.isEmpty else { return nil }
        let leaves = children.flatMap(\.leaves)
        if node.children.count == 1, node.children[0].repetition == .repeated, let repeated = children.first {
            let r = node.children[0]
            if node.isListAnnotated {
                let elementIsChild = !r.isLeaf && r.children.count == 1 && r.name != "array" && r.name != node.name + "_tuple"
                return AssemblyNode(node, .list(repeated: repeated, elementIsChild: elementIsChild), leaves)
            }
            if node.isMapAnnotated && !r.isLeaf {
                return AssemblyNode(node, .map(repeated: repeated), leaves)
            }
        }
        return AssemblyNode(node, .group(children), leaves)
    }
}

/// Walks the columns' levels row by row (record assembly): each node's first requested leaf tells whether
/// the node is null, an empty list, or how many elements a list has; every leaf under a null or empty node
/// holds exactly one entry for it.
private struct Assembler {
    let columns: [ColumnData]
    var levelAt: [Int]
    var valueAt: [Int]

    init(columns: [ColumnData]) {
        self.columns = columns
        levelAt = Array(repeating: 0, count: columns.count)
        valueAt = Array(repeating: 0, count: columns.count)
    }

    private func fail(_ slot: Int, _ reason: String) -> DecodeFailure {
        .malformed("column '\(columns[slot].column.dottedPath)': \(reason)")
    }

    private func definition(_ slot: Int) throws(DecodeFailure) -> Int {
        let c = columns[slot]
        guard levelAt[slot] < c.count else { throw fail(slot, "levels end after \(c.count) entries") }
        return c.definitionLevels.isEmpty ? c.column.maxDefinitionLevel : Int(c.definitionLevels[levelAt[slot]])
    }

    private func repetition(_ slot: Int) -> Int {
        let c = columns[slot]
        return c.repetitionLevels.isEmpty ? 0 : Int(c.repetitionLevels[levelAt[slot]])
    }

    mutating func startRow(_ row: Int) throws(DecodeFailure) {
        for slot in columns.indices {
            guard levelAt[slot] < columns[slot].count else { throw fail(slot, "ends before row \(row)") }
            guard repetition(slot) == 0 else { throw fail(slot, "row \(row) does not start at repetition level 0") }
        }
    }

    func finish(rows: Int) throws(DecodeFailure) {
        for (slot, c) in columns.enumerated() {
            guard levelAt[slot] == c.count, valueAt[slot] == c.values.count else {
                throw fail(slot, "\(c.count - levelAt[slot]) entries and \(c.values.count - valueAt[slot]) values left after \(rows) rows")
            }
        }
    }

    mutating func value(_ node: AssemblyNode) throws(DecodeFailure) -> ParquetValue {
        if node.repetition == .repeated { return .list(try elements(node, elementIsChild: false)) }
        if node.repetition == .optional, try definition(node.leaves[0]) < node.definitionLevel {
            try skip(node)
            return .null
        }
        return try content(node)
    }

    /// The value of a node known to be present.
    private mutating func content(_ node: AssemblyNode) throws(DecodeFailure) -> ParquetValue {
        switch node.kind {
        case let .leaf(slot):
            return try leafValue(slot)
        case let .group(children):
            var fields: [ParquetField] = []
            fields.reserveCapacity(children.count)
            for child in children { fields.append(ParquetField(name: child.name, value: try value(child))) }
            return .record(fields)
        case let .list(repeated, elementIsChild):
            return .list(try elements(repeated, elementIsChild: elementIsChild))
        case let .map(repeated):
            return .list(try elements(repeated, elementIsChild: false))
        }
    }

    /// The elements of repeated node `node` under a present parent: none when its first leaf's definition
    /// level stops short of it; else one per entry until the repetition level drops below the node's.
    private mutating func elements(_ node: AssemblyNode, elementIsChild: Bool) throws(DecodeFailure) -> [ParquetValue] {
        let first = node.leaves[0]
        if try definition(first) < node.definitionLevel {
            try skip(node)
            return []
        }
        var out: [ParquetValue] = []
        repeat {
            if elementIsChild, case let .group(children) = node.kind, let child = children.first {
                out.append(try value(child))
            } else {
                out.append(try content(node))
            }
        } while levelAt[first] < columns[first].count && repetition(first) == node.repetitionLevel
        return out
    }

    /// Consumes the one entry every leaf under a null or empty node has for it.
    private mutating func skip(_ node: AssemblyNode) throws(DecodeFailure) {
        for slot in node.leaves {
            let level = try definition(slot)
            guard level < columns[slot].column.maxDefinitionLevel else {
                throw fail(slot, "a value where its parent is null or empty")
            }
            levelAt[slot] += 1
        }
    }

    private mutating func leafValue(_ slot: Int) throws(DecodeFailure) -> ParquetValue {
        let c = columns[slot]
        let level = try definition(slot)
        guard level == c.column.maxDefinitionLevel else {
            throw fail(slot, "definition level \(level) where a value is required")
        }
        let i = valueAt[slot]
        guard i < c.values.count else { throw fail(slot, "has fewer values than its levels need") }
        levelAt[slot] += 1
        valueAt[slot] += 1
        switch c.values {
        case let .boolean(v): return .boolean(v[i])
        case let .int32(v): return .int32(v[i])
        case let .int64(v): return .int64(v[i])
        case let .float(v): return .float(v[i])
        case let .double(v): return .double(v[i])
        case let .int96(v), let .fixedLenByteArray(v): return .bytes(Array(v[i]))
        case let .byteArray(v):
            guard c.column.isString else { return .bytes(Array(v[i])) }
            guard let text = v.string(at: i) else { throw fail(slot, "value \(i) is not valid UTF-8") }
            return .string(text)
        }
    }
}
