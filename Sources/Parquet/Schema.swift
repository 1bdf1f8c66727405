/// One node of a file's schema tree: a group (with children) or a primitive leaf (a column).
public struct SchemaNode: Sendable {
    public let name: String
    /// Required, optional or repeated (the root is required).
    public let repetition: Repetition
    /// The leaf's physical type; nil for groups.
    public let physicalType: PhysicalType?
    /// The byte width of a FIXED_LEN_BYTE_ARRAY leaf (12 for INT96), 0 otherwise.
    public let typeLength: Int
    public let logicalType: LogicalType?
    public let convertedType: ConvertedType?
    public let children: [SchemaNode]
    /// Names from the root's child down to this node (empty for the root).
    public let path: [String]
    /// The definition level of this node when it is present: its optional and repeated ancestors, itself included.
    public let definitionLevel: Int
    /// The repetition level of this node: its repeated ancestors, itself included.
    public let repetitionLevel: Int
    /// The leaf's index among the file's columns; nil for groups.
    public let columnIndex: Int?

    public var isLeaf: Bool { physicalType != nil }

    /// Whether the node is annotated as a list (LIST logical or converted type).
    public var isListAnnotated: Bool { logicalType == .list || convertedType == .list }
    /// Whether the node is annotated as a map (MAP logical type, or MAP / MAP_KEY_VALUE converted type).
    public var isMapAnnotated: Bool {
        logicalType == .map || convertedType == .map || convertedType == .mapKeyValue
    }
}

/// A leaf column: its path, type, and the maximum definition and repetition levels it is stored with.
public struct ColumnDescriptor: Sendable, Hashable {
    /// The column's index among the file's columns (schema order).
    public let index: Int
    public let path: [String]
    public let physicalType: PhysicalType
    /// Byte width for FIXED_LEN_BYTE_ARRAY (12 for INT96), 0 otherwise.
    public let typeLength: Int
    public let logicalType: LogicalType?
    public let convertedType: ConvertedType?
    public let maxDefinitionLevel: Int
    public let maxRepetitionLevel: Int

    /// The path joined with dots, e.g. `image.bytes` or `tags.list.element`.
    public var dottedPath: String { path.joined(separator: ".") }

    /// Whether the column holds text (a BYTE_ARRAY annotated STRING, ENUM or JSON).
    public var isString: Bool {
        guard physicalType == .byteArray else { return false }
        switch logicalType {
        case .string?, .enumeration?, .json?: return true
        default: return convertedType == .utf8 || convertedType == .enumeration || convertedType == .json
        }
    }
}

/// A file's schema: the tree and its leaf columns in file order.
public struct ParquetSchema: Sendable {
    /// The root group; its children are the top-level fields.
    public let root: SchemaNode
    /// The leaf columns, in the order of the column chunks in each row group.
    public let columns: [ColumnDescriptor]

    /// Deepest nesting accepted (deeper trees are refused rather than recursed into).
    static let maxDepth = 64

    init(elements: [SchemaElement]) throws(DecodeFailure) {
        var next = 0
        var columns: [ColumnDescriptor] = []
        root = try Self.node(elements, &next, parentPath: [], parentDefinition: 0, parentRepetition: 0,
                             depth: 0, columns: &columns)
        guard root.physicalType == nil else { throw .malformed("the schema root is not a group") }
        guard next == elements.count else {
            throw .malformed("schema lists \(elements.count) elements but its tree holds \(next)")
        }
        self.columns = columns
    }

    private static func node(_ elements: [SchemaElement], _ next: inout Int, parentPath: [String],
                             parentDefinition: Int, parentRepetition: Int, depth: Int,
                             columns: inout [ColumnDescriptor]) throws(DecodeFailure) -> SchemaNode {
        guard next < elements.count else { throw .malformed("schema ends inside a group") }
        guard depth <= maxDepth else { throw .malformed("schema nested deeper than \(maxDepth)") }
        let e = elements[next]
        next += 1
        let name = e.name ?? ""
        let isRoot = depth == 0
        let repetition: Repetition
        if isRoot {
            repetition = .required
        } else if let raw = e.repetition {
            guard let r = Repetition(rawValue: raw) else {
                throw raw == 3 ? .unsupported("field '\(name)' has VECTOR repetition")
                    : .malformed("field '\(name)' has unknown repetition \(raw)")
            }
            repetition = r
        } else {
            throw .malformed("field '\(name)' has no repetition type")
        }
        let path = isRoot ? [] : parentPath + [name]
        let definition = parentDefinition + (repetition == .required ? 0 : 1)
        let repetitionLevel = parentRepetition + (repetition == .repeated ? 1 : 0)
        let converted = e.convertedType.map { ConvertedType(rawValue: $0) }
        let childCount = Int(e.numChildren ?? 0)

        if isRoot || childCount > 0 || (e.type == nil && e.numChildren != nil) {
            guard childCount >= 0, childCount <= elements.count - next else {
                throw .malformed("group '\(name)' declares \(childCount) children, \(elements.count - next) elements are left")
            }
            var children: [SchemaNode] = []
            children.reserveCapacity(childCount)
            for _ in 0..<childCount {
                children.append(try node(elements, &next, parentPath: path, parentDefinition: definition,
                                         parentRepetition: repetitionLevel, depth: depth + 1, columns: &columns))
            }
            return SchemaNode(name: name, repetition: repetition, physicalType: nil, typeLength: 0,
                              logicalType: e.logicalType, convertedType: converted, children: children, path: path,
                              definitionLevel: definition, repetitionLevel: repetitionLevel, columnIndex: nil)
        }
        guard let raw = e.type else { throw .malformed("leaf '\(name)' has no type") }
        guard let type = PhysicalType(rawValue: raw) else { throw .malformed("leaf '\(name)' has unknown type \(raw)") }
        var length = 0
        switch type {
        case .fixedLenByteArray:
            guard let l = e.typeLength, l > 0 else {
                throw .malformed("FIXED_LEN_BYTE_ARRAY leaf '\(name)' has length \(e.typeLength.map(String.init) ?? "none")")
            }
            length = Int(l)
        case .int96: length = 12
        default: break
        }
        let descriptor = ColumnDescriptor(index: columns.count, path: path, physicalType: type, typeLength: length,
                                          logicalType: e.logicalType, convertedType: converted,
                                          maxDefinitionLevel: definition, maxRepetitionLevel: repetitionLevel)
        columns.append(descriptor)
        return SchemaNode(name: name, repetition: repetition, physicalType: type, typeLength: length,
                          logicalType: e.logicalType, convertedType: converted, children: [], path: path,
                          definitionLevel: definition, repetitionLevel: repetitionLevel, columnIndex: descriptor.index)
    }

    /// The columns `path` selects: the leaf with that dotted path, or every leaf under the group with that
    /// path (so `image` selects `image.bytes` and `image.path`). Empty when nothing matches.
    public func columns(matching path: String) -> [ColumnDescriptor] {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return columns.filter { $0.path.count >= parts.count && Array($0.path.prefix(parts.count)) == parts }
    }
}
