"""Stage 3, clustering: per playlist, what is clustered (analysis), k-means and its words (kmeans, describe), and the partitioned assets (clustering_assets)."""
