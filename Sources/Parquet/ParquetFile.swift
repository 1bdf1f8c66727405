import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bounds on what one read may allocate, whatever the file declares.
public struct ParquetReadLimits: Sendable, Equatable {
    /// The most bytes one column chunk may decode to (its values, byte array offsets and levels), and the
    /// most one page may declare when decompressed. Reading a row group holds its requested column chunks
    /// at once, so its memory is at most this times the number of requested columns (usually far less).
    /// Default 1 GiB; raise it for files whose row groups are larger.
    public var maxColumnChunkBytes: Int

    public init(maxColumnChunkBytes: Int = 1 << 30) {
        self.maxColumnChunkBytes = maxColumnChunkBytes
    }
}

/// A column chunk as the footer describes it.
public struct ColumnChunkInfo: Sendable {
    public let column: ColumnDescriptor
    public let codec: CompressionCodec
    /// The encodings the chunk's pages use (levels included), as the writer listed them.
    public let encodings: [Encoding]
    /// Entries (values and nulls) in the chunk.
    public let numValues: Int
    public let compressedSize: Int
    public let uncompressedSize: Int
    public let hasDictionaryPage: Bool
}

/// A row group as the footer describes it.
public struct RowGroupInfo: Sendable {
    public let index: Int
    public let numRows: Int
    /// Uncompressed bytes of all its column chunks, as the writer recorded it.
    public let totalByteSize: Int
    /// One per schema column, in schema order.
    public let columns: [ColumnChunkInfo]
}

/// A Parquet file opened for reading: its footer is parsed on open; row groups are then read one at a time,
/// only the columns asked for, straight from a read-only memory map of the file.
///
/// ```swift
/// let file = try ParquetFile(path: "train-00000-of-00010.parquet")
/// for group in file.rowGroups.indices {
///     let data = try file.readRowGroup(group, columns: ["image.bytes", "label"])
///     for row in try data.rows() { ... }   // or data.column("image.bytes")?.values
/// }
/// ```
///
/// Every size, offset and count the file declares is checked against the file (and `limits`) before it is
/// used: a malformed file gives a `ParquetError` naming the file, row group, column and page.
public final class ParquetFile: Sendable {
    /// The path as given.
    public let path: String
    public let schema: ParquetSchema
    /// Rows in the file, as the footer says.
    public let numRows: Int
    public let rowGroups: [RowGroupInfo]
    /// The footer's key/value metadata (e.g. `ARROW:schema`, or `huggingface` for datasets written by the
    /// Hugging Face `datasets` library).
    public let metadata: [String: String]
    /// The writer, e.g. `parquet-cpp-arrow version 19.0.0`.
    public let createdBy: String?
    public let limits: ParquetReadLimits

    private let mapping: MappedBytes
    /// Bytes before the footer: every page must lie within them.
    private let dataLength: Int
    private let chunks: [[ColumnMetaData]]

    /// Opens and maps `path`, and parses its footer and schema.
    public init(path: String, limits: ParquetReadLimits = ParquetReadLimits()) throws(ParquetError) {
        self.path = path
        self.limits = limits
        mapping = try MappedBytes(path: path)
        let bytes = mapping.bytes
        guard bytes.count >= 12 else { throw .notParquet(file: path, reason: "\(bytes.count) bytes, too small for a Parquet file") }
        let head = bytes.loadUnaligned(as: UInt32.self)
        let tail = bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self)
        let par1 = UInt32(littleEndian: 0x3152_4150), pare = UInt32(littleEndian: 0x4552_4150) // "PAR1", "PARE"
        if tail == pare { throw .unsupported(file: path, at: ParquetLocation(), reason: "encrypted footer (PARE)") }
        guard head == par1, tail == par1 else {
            throw .notParquet(file: path, reason: "no PAR1 magic at the start and end")
        }
        let footerLength = Int(bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt32.self).littleEndian)
        guard footerLength <= bytes.count - 12 else {
            throw .malformed(file: path, at: ParquetLocation(), reason: "footer of \(footerLength) bytes is larger than the file allows (\(bytes.count) bytes)")
        }
        dataLength = bytes.count - 8 - footerLength
        let footer = UnsafeRawBufferPointer(rebasing: bytes[dataLength..<(bytes.count - 8)])

        let file: FileMetaData
        do throws(DecodeFailure) {
            var reader = ThriftReader(footer)
            file = try FileMetaData.read(&reader)
            if file.encrypted { throw .unsupported("encrypted columns") }
            schema = try ParquetSchema(elements: file.schema)
        } catch {
            throw error.error(file: path)
        }
        numRows = Int(file.numRows)
        createdBy = file.createdBy
        var metadata: [String: String] = [:]
        for (key, value) in file.keyValueMetadata { metadata[key] = value ?? "" }
        self.metadata = metadata

        var infos: [RowGroupInfo] = []
        var chunks: [[ColumnMetaData]] = []
        for (index, group) in file.rowGroups.enumerated() {
            let at = ParquetLocation(rowGroup: index)
            guard group.columns.count == schema.columns.count else {
                throw .malformed(file: path, at: at, reason: "row group has \(group.columns.count) column chunks, the schema \(schema.columns.count) columns")
            }
            var columns: [ColumnChunkInfo] = []
            var metas: [ColumnMetaData] = []
            for (chunk, column) in zip(group.columns, schema.columns) {
                let at = ParquetLocation(rowGroup: index, column: column.dottedPath)
                if chunk.encrypted { throw .unsupported(file: path, at: at, reason: "encrypted column") }
                if let other = chunk.filePath, !other.isEmpty {
                    throw .unsupported(file: path, at: at, reason: "column data in another file ('\(other)')")
                }
                guard let meta = chunk.metaData else { throw .malformed(file: path, at: at, reason: "column chunk without metadata") }
                columns.append(ColumnChunkInfo(
                    column: column, codec: CompressionCodec(rawValue: meta.codec), encodings: meta.encodings.map(Encoding.init(rawValue:)),
                    numValues: Int(meta.numValues), compressedSize: Int(meta.totalCompressedSize),
                    uncompressedSize: Int(meta.totalUncompressedSize), hasDictionaryPage: (meta.dictionaryPageOffset ?? 0) > 0))
                metas.append(meta)
            }
            infos.append(RowGroupInfo(index: index, numRows: Int(group.numRows), totalByteSize: Int(group.totalByteSize), columns: columns))
            chunks.append(metas)
        }
        rowGroups = infos
        self.chunks = chunks
    }

    /// The columns `paths` select, in schema order, each once. A path selects the leaf column with that
    /// dotted path, or every column under the group with that path (`image` selects `image.bytes` and
    /// `image.path`). Nil selects every column; an empty list is an error (rows need a column to count them).
    public func columns(_ paths: [String]?) throws(ParquetError) -> [ColumnDescriptor] {
        guard let paths else { return schema.columns }
        guard !paths.isEmpty else { throw .noSuchColumn(file: path, column: "") }
        var selected = Set<Int>()
        for path in paths {
            let matches = schema.columns(matching: path)
            guard !matches.isEmpty else { throw .noSuchColumn(file: self.path, column: path) }
            selected.formUnion(matches.map(\.index))
        }
        return schema.columns.filter { selected.contains($0.index) }
    }

    /// Reads row group `index`: the columns `paths` select (see `columns(_:)`; nil reads all), each decoded
    /// whole. Memory is bounded by those column chunks (see `ParquetReadLimits`).
    public func readRowGroup(_ index: Int, columns paths: [String]? = nil) throws(ParquetError) -> RowGroupData {
        guard rowGroups.indices.contains(index) else {
            throw .noSuchRowGroup(file: path, index: index, count: rowGroups.count)
        }
        let selected = try columns(paths)
        let decompressor = DecompressorPool.shared.take()
        defer { DecompressorPool.shared.put(decompressor) }
        let data = UnsafeRawBufferPointer(rebasing: mapping.bytes[0..<dataLength])
        var out: [ColumnData] = []
        for column in selected {
            let reader = ColumnChunkReader(column: column, meta: chunks[index][column.index], numRows: rowGroups[index].numRows,
                                           data: data, budget: MemoryBudget(limit: limits.maxColumnChunkBytes),
                                           decompressor: decompressor)
            do throws(DecodeFailure) {
                out.append(try reader.read())
            } catch {
                throw error.error(file: path, rowGroup: index, column: column.dottedPath)
            }
        }
        return RowGroupData(file: path, index: index, numRows: rowGroups[index].numRows, schema: schema, columns: out)
    }
}

/// Page decompressors kept between row group reads, process-wide: each holds a page-sized buffer and a zstd
/// context, and reusing them spares the allocator (fresh buffers for every row group cost more in page
/// faults than the decompression itself). At most `keep` are kept idle, and none whose buffer is over
/// `keepBytes`.
private final class DecompressorPool: @unchecked Sendable {
    static let shared = DecompressorPool()
    private let lock = NSLock()
    private var idle: [PageDecompressor] = []
    private let keep = 4
    private let keepBytes = 64 << 20

    func take() -> PageDecompressor {
        lock.withLock { idle.popLast() } ?? PageDecompressor()
    }

    func put(_ decompressor: PageDecompressor) {
        guard decompressor.bufferBytes <= keepBytes else { return }
        lock.withLock { if idle.count < keep { idle.append(decompressor) } }
    }
}

/// A read-only memory map of a whole file, unmapped when released.
final class MappedBytes: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws(ParquetError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(file: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .io(file: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .io(file: path, reason: "cannot map: " + String(cString: strerror(errno)))
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
