// The footer and page header structs of the Parquet format, decoded from the Thrift compact protocol.
// Only the fields the reader uses are kept; every other field is skipped. Required fields are checked as
// each struct ends, so a corrupt footer fails at its first bad struct.

struct SchemaElement {
    var type: Int32?
    var typeLength: Int32?
    var repetition: Int32?
    var name: String?
    var numChildren: Int32?
    var convertedType: Int32?
    var logicalType: LogicalType?

    static func read(_ r: inout ThriftReader) throws(DecodeFailure) -> SchemaElement {
        var e = SchemaElement()
        try r.beginStruct()
        while let (id, type) = try r.nextField() {
            switch id {
            case 1: e.type = try r.int32(type)
            case 2: e.typeLength = try r.int32(type)
            case 3: e.repetition = try r.int32(type)
            case 4: e.name = try r.string(type)
            case 5: e.numChildren = try r.int32(type)
            case 6: e.convertedType = try r.int32(type)
            case 10: e.logicalType = try readLogicalType(&r, type)
            default: try r.skip(type)
            }
        }
        guard e.name != nil else { throw .malformed("schema element without a name") }
        return e
    }

    private static func readLogicalType(_ r: inout ThriftReader, _ type: ThriftReader.WireType) throws(DecodeFailure) -> LogicalType? {
        guard type == .structure else { throw .malformed("logical type is not a struct") }
        var result: LogicalType?
        try r.beginStruct()
        while let (id, type) = try r.nextField() {
            guard type == .structure else { throw .malformed("logical type member is not a struct") }
            switch id {
            case 5: // DecimalType
                var scale: Int32 = 0, precision: Int32 = 0
                try r.beginStruct()
                while let (field, t) = try r.nextField() {
                    switch field {
                    case 1: scale = try r.int32(t)
                    case 2: precision = try r.int32(t)
                    default: try r.skip(t)
                    }
                }
                result = .decimal(scale: scale, precision: precision)
            case 7, 8: // TimeType, TimestampType
                var utc = false, unit = TimeUnit.millis
                try r.beginStruct()
                while let (field, t) = try r.nextField() {
                    switch field {
                    case 1: utc = try r.bool(t)
                    case 2:
                        guard t == .structure else { throw .malformed("time unit is not a struct") }
                        try r.beginStruct()
                        while let (u, ut) = try r.nextField() {
                            unit = u == 3 ? .nanos : u == 2 ? .micros : .millis
                            try r.skip(ut)
                        }
                    default: try r.skip(t)
                    }
                }
                result = id == 7 ? .time(adjustedToUTC: utc, unit: unit) : .timestamp(adjustedToUTC: utc, unit: unit)
            case 10: // IntType
                var width: Int8 = 0, signed = true
                try r.beginStruct()
                while let (field, t) = try r.nextField() {
                    switch field {
                    case 1: width = Int8(truncatingIfNeeded: try r.int(t))
                    case 2: signed = try r.bool(t)
                    default: try r.skip(t)
                    }
                }
                result = .integer(bitWidth: width, signed: signed)
            default:
                try r.skip(type)
                let simple: [Int: LogicalType] = [
                    1: .string, 2: .map, 3: .list, 4: .enumeration, 6: .date, 11: .unknown, 12: .json, 13: .bson,
                    14: .uuid, 15: .float16, 16: .variant, 17: .geometry, 18: .geography,
                ]
                result = simple[id] ?? .other(id: id)
            }
        }
        return result
    }
}

struct ColumnMetaData {
    var type: Int32 = -1
    var encodings: [Int32] = []
    var path: [String] = []
    var codec: Int32 = -1
    var numValues: Int64 = -1
    var totalUncompressedSize: Int64 = -1
    var totalCompressedSize: Int64 = -1
    var dataPageOffset: Int64 = -1
    var dictionaryPageOffset: Int64?

    static func read(_ r: inout ThriftReader) throws(DecodeFailure) -> ColumnMetaData {
        var m = ColumnMetaData()
        var seen = Set<Int>()
        try r.beginStruct()
        while let (id, type) = try r.nextField() {
            seen.insert(id)
            switch id {
            case 1: m.type = try r.int32(type)
            case 2: m.encodings = try r.int32List(type)
            case 3: m.path = try r.stringList(type)
            case 4: m.codec = try r.int32(type)
            case 5: m.numValues = try r.int(type)
            case 6: m.totalUncompressedSize = try r.int(type)
            case 7: m.totalCompressedSize = try r.int(type)
            case 9: m.dataPageOffset = try r.int(type)
            case 11: m.dictionaryPageOffset = try r.int(type)
            default: try r.skip(type)
            }
        }
        let required = [1: "type", 2: "encodings", 3: "path_in_schema", 4: "codec", 5: "num_values",
                        7: "total_compressed_size", 9: "data_page_offset"]
        for (id, name) in required.sorted(by: { $0.key < $1.key }) where !seen.contains(id) {
            throw .malformed("column metadata without \(name)")
        }
        return m
    }
}

struct ColumnChunk {
    var filePath: String?
    var metaData: ColumnMetaData?
    var encrypted = false

    static func read(_ r: inout ThriftReader) throws(DecodeFailure) -> ColumnChunk {
        var c = ColumnChunk()
        try r.beginStruct()
        while let (id, type) = try r.nextField() {
            switch id {
            case 1: c.filePath = try r.string(type)
            case 3:
                guard type == .structure else { throw .malformed("column metadata is not a struct") }
                c.metaData = try ColumnMetaData.read(&r)
            case 8, 9:
                c.encrypted = true
                try r.skip(type)
            default: try r.skip(type)
            }
        }
        return c
    }
}

struct RowGroup {
    var columns: [ColumnChunk] = []
    var totalByteSize: Int64 = 0
    var numRows: Int64 = -1

    static func read(_ r: inout ThriftReader) throws(DecodeFailure) -> RowGroup {
        var g = RowGroup()
        try r.beginStruct()
        while let (id, type) = try r.nextField() {
            switch id {
            case 1: g.columns = try r.list(type) { (r: inout ThriftReader) throws(DecodeFailure) in try ColumnChunk.read(&r) }
            case 2: g.totalByteSize = try r.int(type)
            case 3: g.numRows = try r.int(type)
            default: try r.skip(type)
            }
        }
        guard g.numRows >= 0 else { throw .malformed("row group without a valid num_rows (\(g.numRows))") }
        return g
    }
}

struct FileMetaData {
    var version: Int32 = 0
    var schema: [SchemaElement] = []
    var numRows: Int64 = -1
    var rowGroups: [RowGroup] = []
    var keyValueMetadata: [(key: String, value: String?)] = []
    var createdBy: String?
    var encrypted = false

    static func read(_ r: inout ThriftReader) throws(DecodeFailure) -> FileMetaData {
        var m = FileMetaData()
        var sawRowGroups = false
        try r.beginStruct()
        while let (id, type) = try r.nextField() {
            switch id {
            case 1: m.version = try r.int32(type)
            case 2: m.schema = try r.list(type) { (r: inout ThriftReader) throws(DecodeFailure) in try SchemaElement.read(&r) }
            case 3: m.numRows = try r.int(type)
            case 4:
                m.rowGroups = try r.list(type) { (r: inout ThriftReader) throws(DecodeFailure) in try RowGroup.read(&r) }
                sawRowGroups = true
            case 5: m.keyValueMetadata = try r.list(type) { (r: inout ThriftReader) throws(DecodeFailure) in try readKeyValue(&r) }
            case 6: m.createdBy = try r.string(type)
            case 8:
                m.encrypted = true
                try r.skip(type)
            default: try r.skip(type)
            }
        }
        guard !m.schema.isEmpty else { throw .malformed("footer has no schema") }
        guard m.numRows >= 0 else { throw .malformed("footer has no valid num_rows (\(m.numRows))") }
        guard sawRowGroups else { throw .malformed("footer has no row group list") }
        return m
    }

    private static func readKeyValue(_ r: inout ThriftReader) throws(DecodeFailure) -> (key: String, value: String?) {
        var key: String?, value: String?
        try r.beginStruct()
        while let (id, type) = try r.nextField() {
            switch id {
            case 1: key = try r.string(type)
            case 2: value = try r.string(type)
            default: try r.skip(type)
            }
        }
        guard let key else { throw .malformed("key/value metadata entry without a key") }
        return (key, value)
    }
}

/// Page types.
enum PageType: Int32 { case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3 }

struct PageHeader {
    struct DataV1 { var numValues: Int32 = -1; var encoding: Int32 = -1; var definitionEncoding: Int32 = -1; var repetitionEncoding: Int32 = -1 }
    struct Dictionary { var numValues: Int32 = -1; var encoding: Int32 = -1 }
    struct DataV2 {
        var numValues: Int32 = -1, numNulls: Int32 = -1, numRows: Int32 = -1, encoding: Int32 = -1
        var definitionLevelsByteLength: Int32 = -1, repetitionLevelsByteLength: Int32 = -1
        var isCompressed = true
    }

    var type: Int32 = -1
    var uncompressedSize: Int32 = -1
    var compressedSize: Int32 = -1
    var dataV1: DataV1?
    var dictionary: Dictionary?
    var dataV2: DataV2?

    static func read(_ r: inout ThriftReader) throws(DecodeFailure) -> PageHeader {
        var h = PageHeader()
        try r.beginStruct()
        while let (id, type) = try r.nextField() {
            switch id {
            case 1: h.type = try r.int32(type)
            case 2: h.uncompressedSize = try r.int32(type)
            case 3: h.compressedSize = try r.int32(type)
            case 5:
                var d = DataV1()
                try readStruct(&r, type) { (r: inout ThriftReader, id, t) throws(DecodeFailure) in
                    switch id {
                    case 1: d.numValues = try r.int32(t)
                    case 2: d.encoding = try r.int32(t)
                    case 3: d.definitionEncoding = try r.int32(t)
                    case 4: d.repetitionEncoding = try r.int32(t)
                    default: try r.skip(t)
                    }
                }
                h.dataV1 = d
            case 7:
                var d = Dictionary()
                try readStruct(&r, type) { (r: inout ThriftReader, id, t) throws(DecodeFailure) in
                    switch id {
                    case 1: d.numValues = try r.int32(t)
                    case 2: d.encoding = try r.int32(t)
                    default: try r.skip(t)
                    }
                }
                h.dictionary = d
            case 8:
                var d = DataV2()
                try readStruct(&r, type) { (r: inout ThriftReader, id, t) throws(DecodeFailure) in
                    switch id {
                    case 1: d.numValues = try r.int32(t)
                    case 2: d.numNulls = try r.int32(t)
                    case 3: d.numRows = try r.int32(t)
                    case 4: d.encoding = try r.int32(t)
                    case 5: d.definitionLevelsByteLength = try r.int32(t)
                    case 6: d.repetitionLevelsByteLength = try r.int32(t)
                    case 7: d.isCompressed = try r.bool(t)
                    default: try r.skip(t)
                    }
                }
                h.dataV2 = d
            default: try r.skip(type)
            }
        }
        guard h.uncompressedSize >= 0, h.compressedSize >= 0 else {
            throw .malformed("page header without valid sizes (compressed \(h.compressedSize), uncompressed \(h.uncompressedSize))")
        }
        return h
    }

    private static func readStruct(_ r: inout ThriftReader, _ type: ThriftReader.WireType,
                                   _ field: (inout ThriftReader, Int, ThriftReader.WireType) throws(DecodeFailure) -> Void) throws(DecodeFailure) {
        guard type == .structure else { throw .malformed("page header member is not a struct") }
        try r.beginStruct()
        while let (id, t) = try r.nextField() { try field(&r, id, t) }
    }
}
