export declare const PROJECT_ROOT: string;
export declare const BUILD_DIR: string;
export declare const MANIFEST_NAME: string;
export declare const MANIFEST_FORMAT: number;
export declare function checkBuild(buildDir?: string): { entryUrl: string } | { stale: string };
export declare function inputPath(root: string, relativePath: string): string;
