/// Where in a Parquet file a problem was found, as far as it is known.
public struct ParquetLocation: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The row group's index.
    public var rowGroup: Int?
    /// The column's dotted path (e.g. `image.bytes`).
    public var column: String?
    /// The page's index within its column chunk (the dictionary page, when there is one, is page 0).
    public var page: Int?

    public init(rowGroup: Int? = nil, column: String? = nil, page: Int? = nil) {
        self.rowGroup = rowGroup
        self.column = column
        self.page = page
    }

    public var description: String {
        var parts: [String] = []
        if let rowGroup { parts.append("row group \(rowGroup)") }
        if let column { parts.append("column '\(column)'") }
        if let page { parts.append("page \(page)") }
        return parts.isEmpty ? "footer" : parts.joined(separator: ", ")
    }
}

/// Why a Parquet file, or part of one, could not be read.
public enum ParquetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, inspected or mapped.
    case io(file: String, reason: String)
    /// The file is not a Parquet file (too small, no `PAR1` magic).
    case notParquet(file: String, reason: String)
    /// The file breaks the format: a size or offset beyond the file or its column chunk, a stream that ends
    /// early, a level or dictionary index out of range, inconsistent counts.
    case malformed(file: String, at: ParquetLocation, reason: String)
    /// The file uses a valid Parquet feature this reader does not implement (a codec, an encoding, encryption).
    case unsupported(file: String, at: ParquetLocation, reason: String)
    /// Decoding would need more memory than `ParquetReadLimits` allows.
    case limitExceeded(file: String, at: ParquetLocation, reason: String)
    /// A requested column path matches no column of the file's schema (an empty path: none was requested).
    case noSuchColumn(file: String, column: String)
    /// A row group index outside the file's row groups.
    case noSuchRowGroup(file: String, index: Int, count: Int)

    public var description: String {
        switch self {
        case let .io(file, reason): return "\(file): \(reason)"
        case let .notParquet(file, reason): return "\(file): not a Parquet file: \(reason)"
        case let .malformed(file, at, reason): return "\(file): \(at): malformed Parquet: \(reason)"
        case let .unsupported(file, at, reason): return "\(file): \(at): unsupported: \(reason)"
        case let .limitExceeded(file, at, reason): return "\(file): \(at): over the read limit: \(reason)"
        case let .noSuchColumn(file, column):
            return column.isEmpty ? "\(file): no columns requested" : "\(file): no column '\(column)' in the schema"
        case let .noSuchRowGroup(file, index, count): return "\(file): no row group \(index) (the file has \(count))"
        }
    }
}

/// A decoding failure without file context; `ParquetFile` adds the file, row group, column and page.
struct DecodeFailure: Error {
    enum Kind { case malformed, unsupported, limit }
    let kind: Kind
    let reason: String
    var page: Int?

    static func malformed(_ reason: String) -> DecodeFailure { DecodeFailure(kind: .malformed, reason: reason) }
    static func unsupported(_ reason: String) -> DecodeFailure { DecodeFailure(kind: .unsupported, reason: reason) }
    static func limit(_ reason: String) -> DecodeFailure { DecodeFailure(kind: .limit, reason: reason) }

    func error(file: String, rowGroup: Int? = nil, column: String? = nil) -> ParquetError {
        let at = ParquetLocation(rowGroup: rowGroup, column: column, page: page)
        switch kind {
        case .malformed: return .malformed(file: file, at: at, reason: reason)
        case .unsupported: return .unsupported(file: file, at: at, reason: reason)
        case .limit: return .limitExceeded(file: file, at: at, reason: reason)
        }
    }
}

/// Bytes of decoded output a column chunk may still take (`ParquetReadLimits.maxColumnChunkBytes`), charged
/// before each allocation so that a file cannot make the reader allocate more than that.
struct MemoryBudget {
    let limit: Int
    private(set) var left: Int

    init(limit: Int) {
        self.limit = limit
        left = limit
    }

    mutating func charge(_ count: Int, bytesEach: Int, for what: @autoclosure () -> String) throws(DecodeFailure) {
        let (total, overflow) = count.multipliedReportingOverflow(by: bytesEach)
        guard count >= 0, !overflow, total <= left else {
            throw .limit("\(what()) would take more than the \(limit)-byte limit for one column chunk (ParquetReadLimits.maxColumnChunkBytes)")
        }
        left -= total
    }
}
