import { readFileSync } from 'node:fs';
import { assetPath } from '../assets/asset-path.js';

/** The dashboard is one static page; it is read once and served from memory, unauthenticated. */
export function loadDashboard(): string {
  return readFileSync(assetPath('public/index.html'), 'utf8');
}
