import Foundation
import Tensor

// Gradients of the t-SNE objective KL(P‖Q) with Student-t similarities wᵢⱼ = 1 / (1 + ‖yᵢ − yⱼ‖²),
// qᵢⱼ = wᵢⱼ / Z, Z = Σ_{k≠l} w_kl:  ∂C/∂yᵢ = 4 Σⱼ (pᵢⱼ − qᵢⱼ) wᵢⱼ (yᵢ − yⱼ).
// Positions are [x₀, y₀, x₁, y₁, …].

/// The exact objective (scikit-learn's `_kl_divergence`): q floored at ε = 2⁻⁵², error Σ_{i≠j} pᵢⱼ log(pᵢⱼ / qᵢⱼ)
/// (NaN when not asked for). Two passes over all pairs, rows spread over `threads`.
func exactGradient(_ positions: [Double], affinities: DenseAffinities, exaggeration: Double, computeError: Bool,
                   threads: Int) -> (error: Double, gradient: [Double]) {
    let n = affinities.count
    let xs = (0..<n).map { positions[2 * $0] }, ys = (0..<n).map { positions[2 * $0 + 1] }
    // Pass 1: Z, summed per row, then over rows in order (the result does not depend on the thread count).
    var rowSums = [Double](repeating: 0, count: n)
    rowSums.withUnsafeMutableBufferPointer { out in
        let out = UncheckedSendable(out)
        parallelChunks(n, threads: threads) { rows in
            for i in rows {
                var s = 0.0
                let xi = xs[i], yi = ys[i]
                for j in 0..<n where j != i {
                    let dx = xi - xs[j], dy = yi - ys[j]
                    s += 1 / (1 + dx * dx + dy * dy)
                }
                out.value[i] = s
            }
        }
    }
    let z = rowSums.reduce(0, +)
    // Pass 2: gradient rows and, when asked, each row's share of the error.
    var gradient = [Double](repeating: 0, count: 2 * n)
    var rowErrors = [Double](repeating: 0, count: n)
    let eps = Double.ulpOfOne
    gradient.withUnsafeMutableBufferPointer { g in
        rowErrors.withUnsafeMutableBufferPointer { e in
            affinities.p.withUnsafeBufferPointer { p in
                let g = UncheckedSendable(g), e = UncheckedSendable(e), p = UncheckedSendable(p)
                parallelChunks(n, threads: threads) { rows in
                    for i in rows {
                        var gx = 0.0, gy = 0.0, error = 0.0
                        let xi = xs[i], yi = ys[i], base = i * n
                        for j in 0..<n where j != i {
                            let dx = xi - xs[j], dy = yi - ys[j]
                            let w = 1 / (1 + dx * dx + dy * dy)
                            let q = max(w / z, eps)
                            let pij = p.value[base + j] * exaggeration
                            let f = (pij - q) * w
                            gx += f * dx; gy += f * dy
                            if computeError { error += pij * Foundation.log(max(pij, eps) / q) }
                        }
                        g.value[2 * i] = 4 * gx; g.value[2 * i + 1] = 4 * gy
                        e.value[i] = error
                    }
                }
            }
        }
    }
    return (computeError ? rowErrors.reduce(0, +) : .nan, gradient)
}

/// The Barnes–Hut objective (scikit-learn's `_barnes_hut_tsne.gradient`): attraction over the sparse P exactly;
/// repulsion and Z from a quadtree, a cell standing for its points when it is a leaf or when
/// width² / distance² < angle²; the point's own leaf is skipped. Error Σ pᵢⱼ log(pᵢⱼ / (wᵢⱼ / Z)) over the
/// stored pairs, both floored at the smallest normal float32 (NaN when not asked for).
func barnesHutGradient(_ positions: [Double], affinities: SparseAffinities, exaggeration: Double, angle: Double,
                       computeError: Bool, threads: Int) -> (error: Double, gradient: [Double]) {
    let n = affinities.count
    let tree = QuadTree(positions, count: n)
    var attraction = [Double](repeating: 0, count: 2 * n)
    var repulsion = [Double](repeating: 0, count: 2 * n)
    var zParts = [Double](repeating: 0, count: n)
    let squaredAngle = angle * angle
    attraction.withUnsafeMutableBufferPointer { a in
        repulsion.withUnsafeMutableBufferPointer { r in
            zParts.withUnsafeMutableBufferPointer { zp in
                let a = UncheckedSendable(a), r = UncheckedSendable(r), zp = UncheckedSendable(zp)
                parallelChunks(n, threads: threads) { rows in
                    var stack: [Int32] = []
                    stack.reserveCapacity(256)
                    for i in rows {
                        let xi = positions[2 * i], yi = positions[2 * i + 1]
                        var ax = 0.0, ay = 0.0
                        for m in affinities.rowStart[i]..<affinities.rowStart[i + 1] {
                            let j = affinities.columns[m]
                            let dx = xi - positions[2 * j], dy = yi - positions[2 * j + 1]
                            let f = affinities.values[m] * exaggeration / (1 + dx * dx + dy * dy)
                            ax += f * dx; ay += f * dy
                        }
                        a.value[2 * i] = ax; a.value[2 * i + 1] = ay
                        let (rx, ry, z) = tree.repulsion(x: xi, y: yi, squaredAngle: squaredAngle, stack: &stack)
                        r.value[2 * i] = rx; r.value[2 * i + 1] = ry
                        zp.value[i] = z
                    }
                }
            }
        }
    }
    let z = max(zParts.reduce(0, +), Double.ulpOfOne)
    var gradient = [Double](repeating: 0, count: 2 * n)
    for c in 0..<(2 * n) { gradient[c] = 4 * (attraction[c] - repulsion[c] / z) }
    guard computeError else { return (.nan, gradient) }
    let tiny = Double(Float.leastNormalMagnitude)
    var error = 0.0
    for i in 0..<n {
        let xi = positions[2 * i], yi = positions[2 * i + 1]
        for m in affinities.rowStart[i]..<affinities.rowStart[i + 1] {
            let j = affinities.columns[m]
            let dx = xi - positions[2 * j], dy = yi - positions[2 * j + 1]
            let p = affinities.values[m] * exaggeration, q = 1 / (1 + dx * dx + dy * dy) / z
            error += p * Foundation.log(max(p, tiny) / max(q, tiny))
        }
    }
    return (error, gradient)
}

/// scikit-learn's quadtree (`sklearn.neighbors._quad_tree._QuadTree`) over 2-D points: the root box spans the
/// points (the upper bounds pushed out slightly so every point is strictly inside), points inserted one by one,
/// a leaf split into quadrants when a second point arrives, points within 1e-6 on both axes kept as duplicates
/// in one leaf; every cell keeps its points' count and barycenter.
struct QuadTree {
    struct Cell {
        var centerX = 0.0, centerY = 0.0
        var minX = 0.0, minY = 0.0, maxX = 0.0, maxY = 0.0
        var squaredWidth = 0.0
        var baryX = 0.0, baryY = 0.0
        var size = 0
        var isLeaf = true
        /// Children by quadrant (bit 1: x ≥ center, bit 0: y ≥ center); −1 where absent.
        var children: SIMD4<Int32> = SIMD4(repeating: -1)
    }

    private(set) var cells: [Cell] = []
    static let duplicateDistance = Double(Float(1e-6))

    init(_ positions: [Double], count n: Int) {
        var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
        for i in 0..<n {
            minX = min(minX, positions[2 * i]); maxX = max(maxX, positions[2 * i])
            minY = min(minY, positions[2 * i + 1]); maxY = max(maxY, positions[2 * i + 1])
        }
        func pushed(_ m: Double) -> Double { max(m * (1 + 1e-3 * (m > 0 ? 1 : m < 0 ? -1 : 0)), m + 1e-3) }
        maxX = pushed(maxX); maxY = pushed(maxY)
        var root = Cell()
        root.minX = minX; root.minY = minY; root.maxX = maxX; root.maxY = maxY
        root.centerX = (minX + maxX) / 2; root.centerY = (minY + maxY) / 2
        root.squaredWidth = max((maxX - minX) * (maxX - minX), (maxY - minY) * (maxY - minY))
        cells.reserveCapacity(2 * n + 1)
        cells.append(root)
        for i in 0..<n { insert(positions[2 * i], positions[2 * i + 1]) }
    }

    private func quadrant(_ x: Double, _ y: Double, of cell: Cell) -> Int {
        (x >= cell.centerX ? 2 : 0) + (y >= cell.centerY ? 1 : 0)
    }

    /// A new child of `parent` in the quadrant of (x, y), holding `size` points at (x, y).
    private mutating func addChild(_ parent: Int, x: Double, y: Double, size: Int) -> Int {
        let p = cells[parent]
        var child = Cell()
        let q = quadrant(x, y, of: p)
        if q & 2 != 0 { child.minX = p.centerX; child.maxX = p.maxX } else { child.minX = p.minX; child.maxX = p.centerX }
        if q & 1 != 0 { child.minY = p.centerY; child.maxY = p.maxY } else { child.minY = p.minY; child.maxY = p.centerY }
        child.centerX = (child.minX + child.maxX) / 2; child.centerY = (child.minY + child.maxY) / 2
        let wx = child.maxX - child.minX, wy = child.maxY - child.minY
        child.squaredWidth = max(wx * wx, wy * wy)
        child.baryX = x; child.baryY = y; child.size = size
        let id = cells.count
        cells.append(child)
        cells[parent].isLeaf = false
        cells[parent].children[q] = Int32(id)
        return id
    }

    private mutating func insert(_ x: Double, _ y: Double) {
        var id = 0
        while true {
            let cell = cells[id]
            if cell.size == 0 {
                cells[id].size = 1; cells[id].baryX = x; cells[id].baryY = y
                return
            }
            if !cell.isLeaf {
                let s = Double(cell.size)
                cells[id].baryX = (s * cell.baryX + x) / (s + 1)
                cells[id].baryY = (s * cell.baryY + y) / (s + 1)
                cells[id].size += 1
                let child = cell.children[quadrant(x, y, of: cell)]
                if child < 0 { _ = addChild(id, x: x, y: y, size: 1); return }
                id = Int(child)
                continue
            }
            if abs(x - cell.baryX) <= QuadTree.duplicateDistance && abs(y - cell.baryY) <= QuadTree.duplicateDistance {
                cells[id].size += 1
                return
            }
            // Split the leaf: its point(s) move to a child, then insert again at this cell.
            _ = addChild(id, x: cell.baryX, y: cell.baryY, size: cell.size)
        }
    }

    /// Σ over summary cells of size·w²·(point − barycenter) and Σ size·w, for one point.
    func repulsion(x: Double, y: Double, squaredAngle: Double, stack: inout [Int32]) -> (Double, Double, Double) {
        var fx = 0.0, fy = 0.0, z = 0.0
        stack.removeAll(keepingCapacity: true)
        stack.append(0)
        while let top = stack.popLast() {
            let cell = cells[Int(top)]
            let dx = x - cell.baryX, dy = y - cell.baryY
            let d2 = dx * dx + dy * dy
            if cell.isLeaf && abs(dx) <= QuadTree.duplicateDistance && abs(dy) <= QuadTree.duplicateDistance { continue }
            if cell.isLeaf || cell.squaredWidth / d2 < squaredAngle {
                let w = 1 / (1 + d2), s = Double(cell.size)
                z += s * w
                let m = s * w * w
                fx += m * dx; fy += m * dy
            } else {
                // Children pushed in reverse so they are visited in quadrant order, as scikit-learn recurses.
                for q in stride(from: 3, through: 0, by: -1) where cell.children[q] >= 0 { stack.append(cell.children[q]) }
            }
        }
        return (fx, fy, z)
    }
}
