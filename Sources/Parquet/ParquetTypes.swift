/// A column's physical (storage) type.
public enum PhysicalType: Int32, Sendable, Hashable, CustomStringConvertible {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7

    /// The format's name for it (as pyarrow prints it), e.g. `BYTE_ARRAY`.
    public var description: String {
        switch self {
        case .boolean: return "BOOLEAN"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .int96: return "INT96"
        case .float: return "FLOAT"
        case .double: return "DOUBLE"
        case .byteArray: return "BYTE_ARRAY"
        case .fixedLenByteArray: return "FIXED_LEN_BYTE_ARRAY"
        }
    }
}

/// Whether a schema field is required, optional (nullable) or repeated.
public enum Repetition: Int32, Sendable, Hashable {
    case required = 0, optional = 1, repeated = 2
}

/// A page encoding, as stored in the file (unknown values are kept, so that metadata still reads).
public struct Encoding: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let plain = Encoding(rawValue: 0)
    public static let plainDictionary = Encoding(rawValue: 2)
    public static let rle = Encoding(rawValue: 3)
    public static let bitPacked = Encoding(rawValue: 4)
    public static let deltaBinaryPacked = Encoding(rawValue: 5)
    public static let deltaLengthByteArray = Encoding(rawValue: 6)
    public static let deltaByteArray = Encoding(rawValue: 7)
    public static let rleDictionary = Encoding(rawValue: 8)
    public static let byteStreamSplit = Encoding(rawValue: 9)

    /// The format's name, e.g. `RLE_DICTIONARY`.
    public var description: String {
        let names: [Int32: String] = [
            0: "PLAIN", 2: "PLAIN_DICTIONARY", 3: "RLE", 4: "BIT_PACKED", 5: "DELTA_BINARY_PACKED",
            6: "DELTA_LENGTH_BYTE_ARRAY", 7: "DELTA_BYTE_ARRAY", 8: "RLE_DICTIONARY", 9: "BYTE_STREAM_SPLIT",
        ]
        return names[rawValue] ?? "ENCODING(\(rawValue))"
    }
}

/// A column chunk's compression codec, as stored in the file.
public struct CompressionCodec: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let uncompressed = CompressionCodec(rawValue: 0)
    public static let snappy = CompressionCodec(rawValue: 1)
    public static let gzip = CompressionCodec(rawValue: 2)
    public static let zstd = CompressionCodec(rawValue: 6)

    /// The format's name, e.g. `SNAPPY`.
    public var description: String {
        let names: [Int32: String] = [
            0: "UNCOMPRESSED", 1: "SNAPPY", 2: "GZIP", 3: "LZO", 4: "BROTLI", 5: "LZ4", 6: "ZSTD", 7: "LZ4_RAW",
        ]
        return names[rawValue] ?? "CODEC(\(rawValue))"
    }
}

/// The unit of a TIME or TIMESTAMP logical type.
public enum TimeUnit: Sendable, Hashable { case millis, micros, nanos }

/// A logical type annotation (how to interpret the physical values). The reader returns physical values
/// (an INT64 timestamp stays an `Int64`); the annotation tells what they mean. Strings, lists and maps are
/// the annotations that change how `RowGroupData.rows()` assembles values.
public enum LogicalType: Sendable, Hashable {
    case string, map, list, enumeration
    case decimal(scale: Int32, precision: Int32)
    case date
    case time(adjustedToUTC: Bool, unit: TimeUnit)
    case timestamp(adjustedToUTC: Bool, unit: TimeUnit)
    case integer(bitWidth: Int8, signed: Bool)
    /// The NULL annotation (a column of nulls only).
    case unknown
    case json, bson, uuid, float16, variant, geometry, geography
    /// An annotation this reader does not know, by its union field id.
    case other(id: Int)
}

/// The older (deprecated) type annotation, still written beside the logical type.
public struct ConvertedType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let utf8 = ConvertedType(rawValue: 0)
    public static let map = ConvertedType(rawValue: 1)
    public static let mapKeyValue = ConvertedType(rawValue: 2)
    public static let list = ConvertedType(rawValue: 3)
    public static let enumeration = ConvertedType(rawValue: 4)
    public static let json = ConvertedType(rawValue: 19)

    /// The format's name, e.g. `UTF8` or `INT_8`.
    public var description: String {
        let names = [
            "UTF8", "MAP", "MAP_KEY_VALUE", "LIST", "ENUM", "DECIMAL", "DATE", "TIME_MILLIS", "TIME_MICROS",
            "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS", "UINT_8", "UINT_16", "UINT_32", "UINT_64", "INT_8", "INT_16",
            "INT_32", "INT_64", "JSON", "BSON", "INTERVAL",
        ]
        return rawValue >= 0 && Int(rawValue) < names.count ? names[Int(rawValue)] : "CONVERTED(\(rawValue))"
    }
}
