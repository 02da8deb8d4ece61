import { pick, round2, seeded } from './random.js';

export interface Product {
  asin: string;
  title: string;
  category: string;
  price: number;
  rating: number;
  reviews: number;
}

/** The product whose competitors the pipeline looks for. */
export const REFERENCE: Product = {
  asin: 'B0REF00001',
  title: 'Adjustable Aluminum Laptop Stand for Desk, Ergonomic Laptop Riser',
  category: 'Laptop Stands',
  price: 39.99,
  rating: 4.6,
  reviews: 3_412,
};

/**
 * The planted bug's victim: a phone case whose title happens to be full of the reference's
 * words (adjustable, aluminum, desk, stand…) and which is very well reviewed.
 */
export const PLANTED: Product = {
  asin: 'B0PHONE777',
  title: 'Adjustable Kickstand Phone Case, Aluminum Frame, Desk Stand Compatible',
  category: 'Phone Cases',
  price: 24.99,
  rating: 4.9,
  reviews: 58_210,
};

const CATEGORIES: { name: string; share: number; price: [number, number]; nouns: string[] }[] = [
  { name: 'Laptop Stands', share: 0.16, price: [15, 120], nouns: ['Laptop Stand', 'Laptop Riser', 'Notebook Stand', 'Laptop Holder'] },
  { name: 'Monitor Arms', share: 0.1, price: [25, 200], nouns: ['Monitor Arm', 'Monitor Mount', 'Dual Monitor Stand'] },
  { name: 'Phone Cases', share: 0.2, price: [6, 45], nouns: ['Phone Case', 'Phone Cover', 'Bumper Case'] },
  { name: 'Tablet Stands', share: 0.1, price: [10, 60], nouns: ['Tablet Stand', 'iPad Holder', 'Tablet Mount'] },
  { name: 'Desk Lamps', share: 0.1, price: [12, 90], nouns: ['Desk Lamp', 'LED Lamp', 'Task Light'] },
  { name: 'Keyboard Trays', share: 0.08, price: [20, 150], nouns: ['Keyboard Tray', 'Keyboard Drawer'] },
  { name: 'Laptop Bags', share: 0.16, price: [18, 140], nouns: ['Laptop Bag', 'Laptop Sleeve', 'Laptop Backpack'] },
  { name: 'USB Hubs', share: 0.1, price: [9, 80], nouns: ['USB Hub', 'USB-C Dock', 'Docking Station'] },
];

const ADJECTIVES = [
  'Adjustable',
  'Portable',
  'Foldable',
  'Ergonomic',
  'Aluminum',
  'Slim',
  'Heavy Duty',
  'Premium',
  'Compact',
  'Universal',
  'Ventilated',
  'Wooden',
];
const EXTRAS = [
  'for Desk',
  'for MacBook',
  'for Home Office',
  'with Cable Management',
  'Non-Slip',
  '360° Rotation',
  'Height Adjustable',
  'with Kickstand',
  'for Travel',
  'Black',
  'Silver',
];

/** 8,000 products across related and unrelated categories, always the same ones. */
export function makeCatalog(size = 8_000, seed = 20260115): Product[] {
  const rand = seeded(seed);
  const products: Product[] = [];
  for (let i = 0; i < size - 1; i++) {
    let r = rand();
    const cat = CATEGORIES.find((c) => (r -= c.share) < 0) ?? CATEGORIES[0];
    const title = `${pick(rand, ADJECTIVES)} ${pick(rand, cat.nouns)} ${pick(rand, EXTRAS)}`;
    const [lo, hi] = cat.price;
    products.push({
      asin: `B0${(100_000 + i).toString(36).toUpperCase().padStart(8, '0')}`,
      title,
      category: cat.name,
      price: round2(lo + rand() * (hi - lo)),
      // Ratings between 2.5 and 4.8; reviews from a handful to a few thousand.
      rating: round2(2.5 + rand() * 2.3),
      reviews: Math.floor(rand() ** 3 * 6_000),
    });
  }
  // Somewhere in the middle, as a search engine would return it.
  products.splice(Math.floor(size / 3), 0, PLANTED);
  return products;
}
