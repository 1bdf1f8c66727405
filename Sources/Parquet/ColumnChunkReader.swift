/// Reads one column chunk: walks its pages (an optional dictionary page, then data pages v1 or v2),
/// decompresses each into a reused buffer, decodes the levels and values, and checks every size and count
/// against the chunk, the page and the memory budget before using it.
struct ColumnChunkReader {
    let column: ColumnDescriptor
    let meta: ColumnMetaData
    let numRows: Int
    /// The bytes of the file before its footer (page offsets must fall inside).
    let data: UnsafeRawBufferPointer
    var budget: MemoryBudget
    let decompressor: PageDecompressor

    func read() throws(DecodeFailure) -> ColumnData {
        var reader = self
        return try reader.readChunk()
    }

    private mutating func readChunk() throws(DecodeFailure) -> ColumnData {
        guard meta.type == column.physicalType.rawValue else {
            throw .malformed("column chunk has type \(PhysicalType(rawValue: meta.type).map(String.init(describing:)) ?? String(meta.type)), the schema says \(column.physicalType)")
        }
        guard meta.path == column.path else {
            throw .malformed("column chunk path '\(meta.path.joined(separator: "."))' does not match the schema's '\(column.dottedPath)'")
        }
        let codec = CompressionCodec(rawValue: meta.codec)
        guard meta.numValues >= 0 else {
            throw .malformed("column chunk declares \(meta.numValues) values")
        }
        let total = Int(meta.numValues)
        if column.maxRepetitionLevel == 0 {
            guard total == numRows else { throw .malformed("column chunk holds \(total) values for \(numRows) rows") }
        } else {
            guard total >= numRows else { throw .malformed("repeated column chunk holds \(total) entries for \(numRows) rows") }
        }

        var values = ValueBuilder(type: column.physicalType, typeLength: column.typeLength)
        if total == 0 { // writers give empty chunks no pages (and offset 0)
            return ColumnData(column: column, values: values.finish(), definitionLevels: [], repetitionLevels: [],
                              count: 0, pages: PageCounts())
        }

        // The chunk's byte range: from the dictionary page (when there is one) through the data pages.
        var start = meta.dataPageOffset
        if let dictionary = meta.dictionaryPageOffset, dictionary > 0, dictionary < start { start = dictionary }
        let length = meta.totalCompressedSize
        guard start >= 4, length >= 0, start <= Int64(data.count), length <= Int64(data.count) - start else {
            throw .malformed("column chunk at \(start) of \(length) bytes lies outside the file's data (\(data.count) bytes)")
        }
        let chunk = UnsafeRawBufferPointer(rebasing: data[Int(start)..<Int(start + length)])

        let levelCount = (column.maxDefinitionLevel > 0 ? 1 : 0) + (column.maxRepetitionLevel > 0 ? 1 : 0)
        try budget.charge(total, bytesEach: 2 * levelCount, for: "levels of \(total) entries")
        var definitions = [UInt16](repeating: 0, count: column.maxDefinitionLevel > 0 ? total : 0)
        var repetitions = [UInt16](repeating: 0, count: column.maxRepetitionLevel > 0 ? total : 0)
        // Room for the values at once, within the budget: up to one per entry, and for byte arrays as many
        // bytes as the footer's uncompressed size says (never more than the chunk could decompress to).
        if total <= budget.left / 8 {
            let expansion = codec == .uncompressed ? 1 : 8
            let (plausible, overflow) = chunk.count.multipliedReportingOverflow(by: expansion)
            values.reserve(count: total, byteHint: min(Int(clamping: meta.totalUncompressedSize), budget.left / 2, overflow ? .max : plausible))
        }
        var dictionary: ValueBuilder?
        var pages = PageCounts()
        var filled = 0
        var cursor = ByteCursor(chunk)
        var pageIndex = 0

        while filled < total {
            guard !cursor.isAtEnd else {
                throw .malformed("column chunk ends after \(filled) of its \(total) values")
            }
            do throws(DecodeFailure) {
                var thrift = ThriftReader(cursor.rest)
                let header = try PageHeader.read(&thrift)
                try cursor.skip(thrift.offset, "page header")
                let body = try cursor.take(Int(header.compressedSize), "page of \(header.compressedSize) bytes")
                guard Int(header.uncompressedSize) <= budget.limit else {
                    throw .limit("page declares \(header.uncompressedSize) bytes, more than the \(budget.limit)-byte limit")
                }
                switch PageType(rawValue: header.type) {
                case .dictionaryPage?:
                    guard dictionary == nil, filled == 0, let info = header.dictionary else {
                        throw .malformed("dictionary page after data pages, repeated, or without its header")
                    }
                    dictionary = try readDictionary(header, info, body, codec)
                    pages.dictionary += 1
                case .dataPage?:
                    guard let info = header.dataV1 else { throw .malformed("data page without its header") }
                    let page = try pageBytes(codec, body, uncompressedSize: Int(header.uncompressedSize))
                    let n = try checkedCount(info.numValues, filled: filled, total: total)
                    var c = ByteCursor(page)
                    if column.maxRepetitionLevel > 0 {
                        try checkLevelEncoding(info.repetitionEncoding, "repetition")
                        let bytes = try c.take(Int(try c.uint32("repetition levels length")), "repetition levels")
                        try decodeLevels(into: &repetitions, bytes, max: column.maxRepetitionLevel, at: filled, count: n, "repetition")
                    }
                    if column.maxDefinitionLevel > 0 {
                        try checkLevelEncoding(info.definitionEncoding, "definition")
                        let bytes = try c.take(Int(try c.uint32("definition levels length")), "definition levels")
                        try decodeLevels(into: &definitions, bytes, max: column.maxDefinitionLevel, at: filled, count: n, "definition")
                    }
                    let present = presentCount(definitions, at: filled, count: n)
                    try values.append(Encoding(rawValue: info.encoding), c.rest, count: present, dictionary: dictionary, budget: &budget)
                    filled += n
                    pages.dataV1 += 1
                case .dataPageV2?:
                    guard let info = header.dataV2 else { throw .malformed("data page v2 without its header") }
                    let n = try checkedCount(info.numValues, filled: filled, total: total)
                    let repLength = Int(info.repetitionLevelsByteLength), defLength = Int(info.definitionLevelsByteLength)
                    guard repLength >= 0, defLength >= 0, repLength + defLength <= body.count,
                          repLength + defLength <= Int(header.uncompressedSize) else {
                        throw .malformed("level lengths \(repLength) + \(defLength) exceed the page")
                    }
                    if column.maxRepetitionLevel > 0 {
                        try decodeLevels(into: &repetitions, UnsafeRawBufferPointer(rebasing: body[0..<repLength]),
                                         max: column.maxRepetitionLevel, at: filled, count: n, "repetition")
                    }
                    if column.maxDefinitionLevel > 0 {
                        try decodeLevels(into: &definitions, UnsafeRawBufferPointer(rebasing: body[repLength..<(repLength + defLength)]),
                                         max: column.maxDefinitionLevel, at: filled, count: n, "definition")
                    }
                    let stored = UnsafeRawBufferPointer(rebasing: body[(repLength + defLength)...])
                    let size = Int(header.uncompressedSize) - repLength - defLength
                    let valueBytes = try pageBytes(info.isCompressed ? codec : .uncompressed, stored, uncompressedSize: size)
                    let present = presentCount(definitions, at: filled, count: n)
                    try values.append(Encoding(rawValue: info.encoding), valueBytes, count: present, dictionary: dictionary, budget: &budget)
                    filled += n
                    pages.dataV2 += 1
                default:
                    break // index pages and page types from newer writers carry no values
                }
            } catch {
                var failure = error
                failure.page = pageIndex
                throw failure
            }
            pageIndex += 1
        }
        return ColumnData(column: column, values: values.finish(), definitionLevels: definitions,
                          repetitionLevels: repetitions, count: total, pages: pages)
    }

    /// The page's bytes, decompressed when `codec` compresses them.
    private func pageBytes(_ codec: CompressionCodec, _ stored: UnsafeRawBufferPointer, uncompressedSize: Int) throws(DecodeFailure) -> UnsafeRawBufferPointer {
        try PageDecompressor.checkDeclaredSize(codec, compressed: stored, declared: uncompressedSize)
        if codec == .uncompressed { return stored }
        return try decompressor.decompress(codec, stored, size: uncompressedSize)
    }

    private mutating func readDictionary(_ header: PageHeader, _ info: PageHeader.Dictionary, _ body: UnsafeRawBufferPointer,
                                _ codec: CompressionCodec) throws(DecodeFailure) -> ValueBuilder {
        let encoding = Encoding(rawValue: info.encoding)
        guard encoding == .plain || encoding == .plainDictionary else {
            throw .unsupported("dictionary page encoded \(encoding)")
        }
        let page = try pageBytes(codec, body, uncompressedSize: Int(header.uncompressedSize))
        // Every PLAIN entry takes at least one byte (a bit, for booleans; 4 length bytes for byte arrays).
        let count = Int(info.numValues)
        let perByte = column.physicalType == .boolean ? 8 : 1
        guard count >= 0, count <= page.count * perByte else {
            throw .malformed("dictionary of \(info.numValues) entries in \(page.count) bytes")
        }
        var dictionary = ValueBuilder(type: column.physicalType, typeLength: column.typeLength)
        try dictionary.append(.plain, page, count: count, dictionary: nil, budget: &budget)
        return dictionary
    }

    private func checkedCount(_ numValues: Int32, filled: Int, total: Int) throws(DecodeFailure) -> Int {
        guard numValues >= 0, Int(numValues) <= total - filled else {
            throw .malformed("page declares \(numValues) values, \(total - filled) of the chunk's \(total) are left")
        }
        return Int(numValues)
    }

    private func checkLevelEncoding(_ raw: Int32, _ what: String) throws(DecodeFailure) {
        let encoding = Encoding(rawValue: raw)
        guard encoding == .rle else { throw .unsupported("\(what) levels encoded \(encoding) (only RLE is read)") }
    }

    private func decodeLevels(into levels: inout [UInt16], _ bytes: UnsafeRawBufferPointer, max: Int, at start: Int,
                              count: Int, _ what: String) throws(DecodeFailure) {
        try levels.withUnsafeMutableBufferPointer { (all: inout UnsafeMutableBufferPointer<UInt16>) throws(DecodeFailure) in
            try Parquet.decodeLevels(bytes, maxLevel: max, count: count,
                                     into: UnsafeMutableBufferPointer(rebasing: all[start..<(start + count)]), what)
        }
    }

    /// How many of the entries `start..<start+count` hold a value (definition level at the maximum).
    private func presentCount(_ definitions: [UInt16], at start: Int, count: Int) -> Int {
        guard column.maxDefinitionLevel > 0 else { return count }
        let top = UInt16(column.maxDefinitionLevel)
        var present = 0
        for i in start..<(start + count) where definitions[i] == top { present += 1 }
        return present
    }
}
