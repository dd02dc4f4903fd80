export { encodePng, crc32, PNG_SIGNATURE } from './png.js';
export { imageGrid, perturbationMap, gridLayout, cellOrigin } from './image-grid.js';
export type { Tile, GridOptions, GridImage, GridLayout } from './image-grid.js';
export { drawText, textWidth, textHeight, glyphFor, GLYPH_W, GLYPH_H, GLYPH_GAP } from './font.js';
